"""Versions and the road to production: version records and the ledger (kinds "version", "ledger"), the
actions that change them, the launch gate, input schemas and batch scoring, model cards and packages.
Imports core.evaluate and below.
"""
