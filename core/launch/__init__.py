"""Rehearsing a launch: simulation types, the shadow / A/B / canary strategies, the replay set, rehearsals
(record kind "simulation") and their charts. Imports core.monitor and below.
"""
