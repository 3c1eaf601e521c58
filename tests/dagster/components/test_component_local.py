"""PostHogEndpointsComponent against the local PostHog Endpoints server, over real sockets.

Refresh the state from the server, load the definitions (no request), materialize a partition
whose window becomes the endpoint's variables, and load again with the server stopped. The
refresh-and-materialize test runs against both API dialects; on the current one (PostHog today)
the endpoint list arrives in pages and ``force_async`` runs synchronously.
"""

from __future__ import annotations

import asyncio
import math
import warnings
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from dagster.components.testing import create_defs_folder_sandbox

from endpoints_dagster.components import EndpointSkippedWarning, PostHogEndpointsComponent
from endpoints_dagster.local.process import LocalServer

pytestmark = pytest.mark.integration

TYPE = "endpoints_dagster.components.PostHogEndpointsComponent"
ATTRIBUTES: dict[str, Any] = {
    "connection": {
        "host": "{{ env.LOCAL_POSTHOG_HOST }}",
        "project_id": "{{ env.LOCAL_POSTHOG_PROJECT_ID }}",
        "personal_api_key": "{{ env.LOCAL_POSTHOG_KEY }}",
        "poll_interval": 0.02,
    },
    "selection": {"exclude": ["weekly_*"]},
    "defaults": {"refresh": "force_async"},
    "endpoints": {
        "daily_signups": {
            "partitions": {"type": "daily", "start_date": "2026-01-01"},
            "variables": {"since": "{{ partition.start }}", "until": "{{ partition.end }}"},
        },
    },
}


def point_env_at(monkeypatch: pytest.MonkeyPatch, server: LocalServer) -> None:
    monkeypatch.setenv("LOCAL_POSTHOG_HOST", server.url)
    monkeypatch.setenv("LOCAL_POSTHOG_PROJECT_ID", str(server.project_id))
    monkeypatch.setenv("LOCAL_POSTHOG_KEY", server.api_key)


def api_requests(server: LocalServer) -> int:
    """Requests the server saw on the PostHog API since the last stats reset (control calls excluded)."""
    return sum(n for route, n in server.control.stats()["requests"].items() if " /_local" not in route)


def load(sandbox, defs_path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", EndpointSkippedWarning)  # nothing may be skipped here
        with sandbox.load_component_and_build_defs(defs_path=defs_path) as (component, defs):
            return (
                component,
                defs,
                {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()},
            )


def refresh(sandbox, defs_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EndpointSkippedWarning)  # "no state yet" before the first refresh
        with sandbox.load_component_and_build_defs(defs_path=defs_path) as (component, _):
            asyncio.run(component.refresh_state(sandbox.project_root))


EXPECTED = {
    "posthog/daily_signups",
    "posthog/revenue_by_country",
    "posthog/top_events",
    "posthog/signup_to_purchase_funnel",
    "posthog/feature_usage_by_plan",
}


@pytest.fixture
def local_server(any_dialect_server):
    return any_dialect_server


def list_pages(server: LocalServer) -> int:
    """How many list requests reading the whole endpoint list takes on this server."""
    with httpx.Client(base_url=f"{server.url}/api/projects/1/", headers=server.headers) as client:
        first = client.get("endpoints/").json()
    if isinstance(first, dict) and "count" in first:
        return max(1, math.ceil(first["count"] / len(first["results"])))
    return 1


def test_refresh_then_materialize_a_partition(
    local_server: LocalServer, server_control, monkeypatch, run_body
):
    point_env_at(monkeypatch, local_server)
    with create_defs_folder_sandbox() as sandbox:
        defs_path = sandbox.scaffold_component(
            PostHogEndpointsComponent, defs_yaml_contents={"type": TYPE, "attributes": ATTRIBUTES}
        )
        pages = list_pages(local_server)
        assert pages > 1 or local_server.dialect == "documented"  # the current server pages its lists
        server_control.reset_stats()
        refresh(sandbox, defs_path)
        requests = server_control.stats()["requests"]
        assert api_requests(local_server) == requests["GET /api/projects/{project_id}/endpoints/"] == pages

        server_control.reset_stats()
        _, defs, keys = load(sandbox, defs_path)
        assert api_requests(local_server) == 0
        assert keys >= EXPECTED and not any(k.startswith("posthog/weekly_") for k in keys)

        spec = defs.resolve_assets_def(dg.AssetKey(["posthog", "daily_signups"])).specs_by_key[
            dg.AssetKey(["posthog", "daily_signups"])
        ]
        assert "```sql" in spec.description and "{variables.since}" in spec.description
        assert set(spec.metadata["posthog/saved_variables"].data) == {"since", "until"}

        # Pick a day that has signups, by asking the server directly.
        with httpx.Client(
            base_url=f"{local_server.url}/api/projects/1/", headers=local_server.headers
        ) as client:
            today = date.today()
            window = {"since": (today - timedelta(days=20)).isoformat(), "until": today.isoformat()}
            rows = client.post("endpoints/daily_signups/run/", json=run_body(local_server, window)).json()[
                "results"
            ]
        day, signups = next((d, n) for d, n in rows if n > 0)

        server_control.reset_stats()
        key = dg.AssetKey(["posthog", "daily_signups"])
        io_manager = dg.InMemoryIOManager()
        assets_def = next(a for a in defs.assets if key in a.keys)  # as built, no resources bound yet
        result = dg.materialize(
            [assets_def],
            selection=[key],
            partition_key=day,
            resources={"posthog": defs.resources["posthog"], "io_manager": io_manager},
        )
        assert result.success
        frame = result.asset_value(key)
        assert [str(d)[:10] for d in frame["day"]] == [day]
        assert int(frame["signups"].iloc[0]) == signups
        runs = server_control.executions(endpoint="daily_signups")
        assert len(runs) == 1 and runs[0]["status"] == "completed"
        materialization = result.asset_materializations_for_node(result.all_node_events[0].node_name)[0]
        assert materialization.metadata["posthog/variables"].data == {
            "since": day,
            "until": (date.fromisoformat(day) + timedelta(days=1)).isoformat(),
        }


def test_second_load_with_the_server_stopped(tmp_path, monkeypatch):
    server = LocalServer(tmp_path / "posthog", events=2_000)
    server.start()
    try:
        point_env_at(monkeypatch, server)
        with create_defs_folder_sandbox() as sandbox:
            defs_path = sandbox.scaffold_component(
                PostHogEndpointsComponent, defs_yaml_contents={"type": TYPE, "attributes": ATTRIBUTES}
            )
            refresh(sandbox, defs_path)
            _, _, first = load(sandbox, defs_path)
            server.stop()
            with pytest.raises(httpx.TransportError):  # really down
                httpx.get(f"{server.url}/api/projects/1/endpoints/", timeout=2)
            _, defs, second = load(sandbox, defs_path)
            assert second == first and second >= EXPECTED
            defs.resolve_all_job_defs()
    finally:
        server.stop()
