"""The demo's component side: a Dagster defs folder (see `posthog_endpoints/defs.yaml`).

`definitions.py` writes the curated endpoint assets by hand; this folder discovers every other
endpoint of the project with `PostHogEndpointsComponent`. Refresh its saved endpoint list with
`dg utils refresh-defs-state` (from the repository root, with the POSTHOG_* variables set);
loading the definitions never calls PostHog.
"""
