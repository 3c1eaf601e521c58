"""The component's `endpoint_files`: each file an asset with the file's code version, no request made."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
import respx
from dagster.components.testing import create_defs_folder_sandbox

from endpoints_dagster.as_code import parse_endpoint_file
from endpoints_dagster.components import EndpointSkippedWarning, PostHogEndpointsComponent

HOST = "http://127.0.0.1:9"
LIST_URL = f"{HOST}/api/projects/1/endpoints/"
SAVED = [
    {
        "name": "top_events",
        "description": "saved",
        "current_version": 3,
        "query": {"kind": "HogQLQuery", "query": "SELECT event FROM events"},
    },
    {
        "name": "weekly_users",
        "description": "saved too",
        "current_version": 1,
        "query": {"kind": "HogQLQuery", "query": "SELECT 1"},
    },
]


@pytest.fixture(autouse=True)
def posthog_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_POSTHOG_HOST", HOST)
    monkeypatch.setenv("TEST_POSTHOG_PROJECT_ID", "1")
    monkeypatch.setenv("TEST_POSTHOG_KEY", "phx_component_files_test_key_0123")


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.get(LIST_URL).mock(return_value=httpx.Response(200, json={"results": SAVED}))
        yield router


def _body(**attributes: Any) -> dict[str, Any]:
    connection = {
        "host": "{{ env.TEST_POSTHOG_HOST }}",
        "project_id": "{{ env.TEST_POSTHOG_PROJECT_ID }}",
        "personal_api_key": "{{ env.TEST_POSTHOG_KEY }}",
    }
    return {
        "type": "endpoints_dagster.components.PostHogEndpointsComponent",
        "attributes": {"connection": connection, "endpoint_files": "endpoints", **attributes},
    }


def _write_files(defs_path: Path) -> Path:
    folder = defs_path / "endpoints"
    folder.mkdir()
    (folder / "top_events.sql").write_text(
        "-- description: from the file\n-- tags: [growth]\n\nSELECT event, "
        "count() AS n FROM events GROUP BY event\n"
    )
    (folder / "signups.sql").write_text(
        "-- variables: {since: '2026-01-01'}\nSELECT {variables.since} AS s\n"
    )
    (folder / "broken.sql").write_text("SELECT {variables.nope}\n")
    return folder


def _spec(defs: dg.Definitions, name: str) -> dg.AssetSpec:
    key = dg.AssetKey(["posthog", name])
    return defs.resolve_assets_def(key).specs_by_key[key]


def _load(sandbox: Any, defs_path: Path) -> tuple[dg.Definitions, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with sandbox.load_component_and_build_defs(defs_path=defs_path) as (_, defs):
            defs.resolve_asset_graph()
            return defs, [str(w.message) for w in caught if issubclass(w.category, EndpointSkippedWarning)]


def test_files_need_no_saved_state_and_a_bad_file_is_skipped_naming_its_line() -> None:
    with respx.mock(assert_all_mocked=True) as nothing_allowed, create_defs_folder_sandbox() as sandbox:
        defs_path = sandbox.scaffold_component(
            PostHogEndpointsComponent, defs_yaml_contents=_body(endpoints={"signups": {"group": "growth"}})
        )
        folder = _write_files(defs_path)
        defs, warned = _load(sandbox, defs_path)
        expected = parse_endpoint_file(folder / "signups.sql").code_version
        assert nothing_allowed.calls.call_count == 0
    names = {key.path[-1] for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert names == {"top_events", "signups"}
    spec = _spec(defs, "signups")
    assert spec.code_version == expected
    assert spec.group_name == "growth"
    assert any(f"{folder / 'broken.sql'}:1: the query uses {{variables.nope}}" in w for w in warned), warned


def test_a_file_replaces_the_saved_endpoint_of_its_name(api: respx.MockRouter) -> None:
    with create_defs_folder_sandbox() as sandbox:
        defs_path = sandbox.scaffold_component(PostHogEndpointsComponent, defs_yaml_contents=_body())
        _write_files(defs_path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EndpointSkippedWarning)
            with sandbox.load_component_and_build_defs(defs_path=defs_path) as (component, _):
                asyncio.run(component.refresh_state(sandbox.project_root))
        calls = api.calls.call_count
        defs, _ = _load(sandbox, defs_path)
        assert api.calls.call_count == calls  # loading read the saved list, not PostHog
    top = _spec(defs, "top_events")
    assert top.code_version is not None and top.description and top.description.startswith("from the file")
    assert "growth" in top.tags
    assert _spec(defs, "weekly_users").code_version is None  # discovered, not from a file
