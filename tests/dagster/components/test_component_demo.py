"""The demo's component YAML (demo_defs/) discovers what definitions.py does not write by hand."""

from __future__ import annotations

import asyncio
import shutil
import warnings
from pathlib import Path

import dagster as dg
import pytest
from dagster.components.testing import create_defs_folder_sandbox

from endpoints_dagster.components import EndpointSkippedWarning, PostHogEndpointsComponent
from endpoints_dagster.local.process import LocalServer

pytestmark = pytest.mark.integration

DEMO_YAML = Path(__file__).resolve().parents[3] / "demo_defs" / "posthog_endpoints" / "defs.yaml"
CURATED = {
    "daily_signups",
    "revenue_by_country",
    "top_events",
    "signup_to_purchase_funnel",
    "weekly_active_users",
    "feature_usage_by_plan",
}


def test_demo_yaml_discovers_only_new_endpoints(local_server: LocalServer, endpoint_factory, monkeypatch):
    monkeypatch.setenv("POSTHOG_HOST", local_server.url)
    monkeypatch.setenv("POSTHOG_PROJECT_ID", str(local_server.project_id))
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", local_server.api_key)
    new = endpoint_factory(
        "SELECT event, count() AS n FROM events GROUP BY event", description="Added later."
    )

    with create_defs_folder_sandbox() as sandbox:
        defs_path = sandbox.defs_folder_path / "posthog_endpoints"
        defs_path.mkdir()
        shutil.copy(DEMO_YAML, defs_path / "defs.yaml")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EndpointSkippedWarning)
            with sandbox.load_component_and_build_defs(defs_path=defs_path) as (component, _):
                assert isinstance(component, PostHogEndpointsComponent)
                asyncio.run(component.refresh_state(sandbox.project_root))
        with sandbox.load_component_and_build_defs(defs_path=defs_path) as (_, defs):
            assets = list(defs.assets)
            names = {key.path[-1] for a in assets for key in a.keys}
            specs = {spec.key.path[-1]: spec for a in assets for spec in a.specs}

    assert new in names
    assert not names & CURATED
    assert specs[new].group_name == "posthog_discovered"
    assert specs[new].tags["discovered"] == "true"
    assert specs[new].description.startswith("Added later.")
    # The resource comes from definitions.py, not from the component.
    assert not defs.resources
    assert all("posthog" in a.required_resource_keys for a in assets)
    assert all(isinstance(a, dg.AssetsDefinition) for a in assets)
