"""Understanding a dataset: DuckDB statistics, charts drawn from bins, quality alerts, correlations, the
target-aware view and dataset comparison, also of a split's sets (record kind "profile"). Imports core.split and below.
"""
