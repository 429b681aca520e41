"""Deciding what goes live: the launch gate (reading every stage's evidence: criteria, drift, launch rehearsals), the
actions that register, promote, roll back and archive versions, input schemas and batch scoring, model cards and
packages, and the Registry page's view-models (views) and figures (charts). Sits above core.monitor and core.launch,
whose verdicts the gate reads; imports them and everything below.
"""
