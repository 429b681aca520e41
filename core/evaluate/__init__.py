"""Judging one saved run on its validation rows: thresholds and value, curves, error segments, fairness,
explanations, and the Evaluate page's view-models and charts. Imports core.models and below.
"""
