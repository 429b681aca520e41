"""Persistence, the bottom layer: the DuckDB workspace (datasets, records, frames, artifacts; the only module that
imports duckdb for it) and model files that load without unpickling. Imports only core.errors.
"""
