"""What stakeholders see and what runs the whole story: share links (kind "share"), the dashboard, the
lifecycle status and report, the demo, and projects as a YAML spec. Imports every stage below it; only the
command line sits above.
"""
