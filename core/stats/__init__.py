"""Statistics shared by several stages: confidence intervals and the A/B / canary tests. Pure functions over
arrays; imports only core.errors.
"""
