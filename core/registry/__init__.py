"""The model registry's records: frozen versions of saved runs, their aliases and the append-only ledger (kinds
"version" and "ledger"), read through typed functions. Changing them is core.release.actions' job. Imports
core.evaluate and below.
"""
