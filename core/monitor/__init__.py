"""Watching data and models after launch: drift statistics and checks, reference summaries, sources and time
windows, model monitoring, Evidently's report and saved reports (kinds "drift_report", "drift_reference").
Imports core.registry and below.
"""
