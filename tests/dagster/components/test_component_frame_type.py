"""`frame_type` in component YAML: a default for every endpoint asset, and per endpoint or glob."""

from __future__ import annotations

import traceback

import dagster as dg
import pandas as pd
import pytest
from dagster.components.testing import create_defs_folder_sandbox
from test_component_local import ATTRIBUTES, TYPE, load, point_env_at, refresh

from endpoints_dagster.components import PostHogEndpointsComponent

pa = pytest.importorskip("pyarrow")
pl = pytest.importorskip("polars")

pytestmark = pytest.mark.integration


def test_defaults_and_overrides_choose_each_assets_frame_type(local_server, monkeypatch):
    point_env_at(monkeypatch, local_server)
    attributes = {
        **ATTRIBUTES,
        "selection": {"include": ["top_events", "revenue_by_country", "events_by_browser"]},
        "defaults": {"refresh": "force_async", "frame_type": "polars"},
        "endpoints": {
            "revenue_*": {"frame_type": "arrow", "variables": {"plan": "pro"}},
            "events_by_browser": {"frame_type": "pandas"},
        },
    }
    with create_defs_folder_sandbox() as sandbox:
        defs_path = sandbox.scaffold_component(
            PostHogEndpointsComponent, defs_yaml_contents={"type": TYPE, "attributes": attributes}
        )
        refresh(sandbox, defs_path)
        _, defs, _ = load(sandbox, defs_path)
        result = dg.materialize(
            list(defs.assets),
            resources={"posthog": defs.resources["posthog"], "io_manager": dg.InMemoryIOManager()},
        )
    assert result.success
    value = lambda name: result.asset_value(dg.AssetKey(["posthog", name]))
    assert isinstance(value("top_events"), pl.DataFrame)
    assert isinstance(value("revenue_by_country"), pa.Table)
    assert isinstance(value("events_by_browser"), pd.DataFrame)


def test_an_unknown_frame_type_is_refused_when_the_yaml_loads(local_server, monkeypatch):
    point_env_at(monkeypatch, local_server)
    attributes = {**ATTRIBUTES, "defaults": {"frame_type": "excel"}}
    with create_defs_folder_sandbox() as sandbox:
        defs_path = sandbox.scaffold_component(
            PostHogEndpointsComponent, defs_yaml_contents={"type": TYPE, "attributes": attributes}
        )
        with pytest.raises(Exception) as failed:
            load(sandbox, defs_path)
    # Dagster wraps the schema error; the field is named in the chain it prints.
    assert "frame_type" in "".join(traceback.format_exception(failed.value))
