"""Files in and tables out: staging and ingest, column kinds, the sample datasets, the analyst's read-only SQL and
formula-safe CSV export. Imports core.store and the bottom utilities.
"""
