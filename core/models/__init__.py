"""Training and comparing catalog models: preprocessing, pipelines, workers, metrics, the leaderboard, saved
runs (record kind "run"), clustering and receipts. Imports core.jobs, core.profile and below.
"""
