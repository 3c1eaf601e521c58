"""Fixtures of the Dagster-layer tests: the resource on this test's local server."""

from __future__ import annotations

import pytest

from endpoints_dagster.resource import PostHogEndpointsResource


@pytest.fixture
def posthog(local_server) -> PostHogEndpointsResource:
    """The resource on this test's ``local_server``: the session's, or both dialects in a module that
    overrides ``local_server`` with ``any_dialect_server``. Polls fast so async runs end quickly."""
    return PostHogEndpointsResource(
        host=local_server.url,
        project_id=str(local_server.project_id),
        personal_api_key=local_server.api_key,
        poll_interval=0.05,
    )
