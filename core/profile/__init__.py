"""Understanding a dataset: DuckDB statistics, charts drawn from bins, quality alerts, correlations, the
target-aware view and dataset comparison (record kind "profile"). Imports core.project and below.
"""
