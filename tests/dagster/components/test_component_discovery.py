"""load_endpoint_specs / save_endpoint_state: the Python way, from the same saved state."""

from __future__ import annotations

import warnings

import dagster as dg
import httpx
import pytest
import respx
from component_helpers import demo_state

from endpoints_dagster import PostHogEndpointsResource, build_endpoint_assets, load_endpoint_specs
from endpoints_dagster.components import (
    PARTITION_END,
    PARTITION_START,
    EndpointOverride,
    EndpointSkippedWarning,
    EndpointsState,
)
from endpoints_dagster.discovery.load import main, save_endpoint_state

HOST = "http://127.0.0.1:9"
KEY = "phx_discovery_test_key_0123456789"


@pytest.fixture
def state_path(tmp_path):
    return demo_state().write(tmp_path / "posthog_endpoints.json")


def test_specs_from_a_state_file_feed_the_asset_factory(state_path):
    specs = load_endpoint_specs(
        state_path,
        exclude=["top_*"],
        overrides={
            "daily_signups": EndpointOverride(
                partitions_def=dg.DailyPartitionsDefinition(start_date="2026-01-01"),
                variables={"since": PARTITION_START, "until": PARTITION_END},
            )
        },
    )
    assert [s.name for s in specs] == ["daily_signups", "revenue_by_country"]
    assets = build_endpoint_assets(specs)
    keys = {key for a in assets for key in a.keys}
    assert keys == {dg.AssetKey(["posthog", "daily_signups"]), dg.AssetKey(["posthog", "revenue_by_country"])}
    daily = next(a for a in assets if dg.AssetKey(["posthog", "daily_signups"]) in a.keys)
    spec = next(iter(daily.specs))
    assert "```sql" in spec.description
    assert spec.metadata["posthog/saved_variables"].data == {"since": "2026-01-01", "until": "2026-02-01"}


def test_on_skip_warns_raises_or_ignores(state_path):
    bad = {"top_events": EndpointOverride(variables={"nope": 1})}
    with pytest.warns(EndpointSkippedWarning, match="'top_events'.*'nope'"):
        specs = load_endpoint_specs(state_path, overrides=bad)
    assert "top_events" not in [s.name for s in specs]
    with pytest.raises(ValueError, match="top_events"):
        load_endpoint_specs(state_path, overrides=bad, on_skip="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_endpoint_specs(state_path, overrides=bad, on_skip="ignore")) == 2


def test_a_missing_state_file_names_the_commands(tmp_path):
    with pytest.raises(ValueError, match="refresh-defs-state"):
        load_endpoint_specs(tmp_path / "missing.json")


def test_overrides_must_be_override_objects(state_path):
    with pytest.raises(TypeError, match="EndpointOverride"):
        load_endpoint_specs(state_path, overrides={"top_events": {"version": 1}})


def _mock_list(router: respx.MockRouter) -> respx.Route:
    endpoint = {"name": "top_events", "query": {"kind": "HogQLQuery", "query": "SELECT 1"}, "is_active": True}
    return router.get(f"{HOST}/api/projects/1/endpoints/").mock(
        return_value=httpx.Response(200, json={"results": [endpoint]})
    )


def test_save_endpoint_state_reads_the_list_once(tmp_path):
    resource = PostHogEndpointsResource(host=HOST, project_id="1", personal_api_key=KEY)
    with respx.mock(assert_all_mocked=True) as router:
        route = _mock_list(router)
        state = save_endpoint_state(resource, tmp_path / "s.json")
    assert route.call_count == 1
    assert [e.name for e in EndpointsState.read(tmp_path / "s.json").endpoints] == ["top_events"]
    assert state.project_id == "1" and KEY not in (tmp_path / "s.json").read_text()


def test_command_line_saves_the_list(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", KEY)
    with respx.mock(assert_all_mocked=True) as router:
        _mock_list(router)
        assert main([str(tmp_path / "out.json"), "--host", HOST, "--project-id", "1"]) == 0
    assert "saved 1 endpoint(s)" in capsys.readouterr().out
    monkeypatch.delenv("POSTHOG_PERSONAL_API_KEY")
    assert main([str(tmp_path / "out.json"), "--host", HOST, "--project-id", "1"]) == 2
    assert "POSTHOG_PERSONAL_API_KEY" in capsys.readouterr().err
