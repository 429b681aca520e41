"""Train / validation / test: what a split is (spec), how rows are assigned (random, stratified, time, group),
leak checks (record kind "split"), and the seeded demo project. Imports core.project and below.
"""
