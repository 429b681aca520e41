"""Watching data and models after launch: drift statistics and checks, reference summaries, sources and time
windows, model monitoring, Evidently's report, saved reports (kinds "drift_report", "drift_reference"), and the Drift
page's view-models (views) and figures (charts). Imports core.registry and below.
"""
