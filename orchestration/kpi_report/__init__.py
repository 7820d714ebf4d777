"""The nightly KPI report: one HTML page with charts for management, no personal data.

The page opens offline: its charts are inline SVG and it loads nothing from a network.
"""
