"""A use case and what success means: projects (record kind "project") and their success criteria. Imports
core.data, core.store and the bottom utilities.
"""
