"""Dagster integration for PostHog Endpoints.

The public API is re-exported here; everything else is an implementation detail.
"""

__version__ = "0.1.0"
