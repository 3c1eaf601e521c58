"""Endpoint assets return pandas, Polars or Arrow frames, per spec or for all (`frame_type`)."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from endpoints_dagster import EndpointSpec, build_endpoint_assets

pa = pytest.importorskip("pyarrow")
pl = pytest.importorskip("polars")


def materialization(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dg.AssetMaterialization:
    [event] = [
        e.event_specific_data.materialization
        for e in result.all_events
        if e.is_step_materialization and e.asset_key == key
    ]
    return event


@pytest.mark.integration
def test_each_asset_returns_its_frame_type_with_the_same_rows_and_metadata(posthog, local_server):
    specs = [
        EndpointSpec("top_events", variables={"min_count": 10}),  # the builder's default: polars
        EndpointSpec("revenue_by_country", variables={"plan": "pro"}, frame_type="arrow"),
        EndpointSpec("events_by_browser", frame_type="pandas"),
    ]
    result = dg.materialize(build_endpoint_assets(specs, frame_type="polars"), resources={"posthog": posthog})
    top = result.asset_value(dg.AssetKey(["posthog", "top_events"]))
    revenue = result.asset_value(dg.AssetKey(["posthog", "revenue_by_country"]))
    browsers = result.asset_value(dg.AssetKey(["posthog", "events_by_browser"]))
    assert isinstance(top, pl.DataFrame) and isinstance(revenue, pa.Table)
    assert isinstance(browsers, pd.DataFrame)
    assert str(top.schema["events"]) == "UInt64" and str(revenue.schema.field("purchases").type) == "uint64"

    for key, frame in [("top_events", top), ("revenue_by_country", revenue)]:
        md = materialization(result, dg.AssetKey(["posthog", key])).metadata
        assert md["dagster/row_count"].value == len(frame) > 0
        assert md["preview"].value.startswith("|")  # a Markdown table, whatever the frame type
        assert local_server.api_key not in repr(md)


def test_an_unknown_frame_type_fails_when_the_definitions_load():
    with pytest.raises(ValueError, match="frame_type must be one of pandas, polars, arrow"):
        EndpointSpec("top_events", frame_type="excel")
    with pytest.raises(ValueError, match="frame_type"):
        build_endpoint_assets(["top_events"], frame_type="spark")
