"""Endpoint assets materialized with Dagster against the local server, over real HTTP.

Every test runs against both API dialects (``local_server`` is overridden with the parametrized
``any_dialect_server``): the documented one and PostHog as deployed today (``current``, strict).
The resource keeps its default ``api_dialect="auto"``, so on the current server the client finds
out by itself, as it would against real PostHog.
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

import dagster as dg
import httpx
import pandas as pd
import pytest

from endpoints_dagster import (
    EndpointSpec,
    PartitionVariables,
    PostHogEndpointsResource,
    build_endpoint_assets,
)

pytestmark = pytest.mark.integration
VARIABLE = "5d0c1d6e-3f9b-4a6e-8d2a-7b1c9e0f4a12"  # PostHog today refuses a variable id that is not a UUID


@pytest.fixture
def local_server(any_dialect_server):
    return any_dialect_server


def materialize(assets, posthog, *, instance=None, selection=None, partition_key=None, raise_on_error=True):
    return dg.materialize(
        assets,
        resources={"posthog": posthog},
        instance=instance,
        selection=selection,
        partition_key=partition_key,
        raise_on_error=raise_on_error,
    )


def materialization(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dg.AssetMaterialization:
    [event] = [
        e.event_specific_data.materialization
        for e in result.all_events
        if e.is_step_materialization and e.asset_key == key
    ]
    return event


def test_rows_land_as_a_typed_dataframe(posthog, local_server, local_client, run_body):
    assets = build_endpoint_assets([EndpointSpec("revenue_by_country", variables={"plan": "pro"})])
    result = materialize(assets, posthog)
    frame: pd.DataFrame = result.asset_value(dg.AssetKey(["posthog", "revenue_by_country"]))

    # The same endpoint read directly over HTTP (no Dagster, no client) gives the same rows.
    direct = local_client.post(
        "endpoints/revenue_by_country/run/", json=run_body(local_server, {"plan": "pro"}, limit=1000)
    ).json()
    assert list(frame.columns) == direct["columns"] == ["country", "purchases", "revenue"]
    assert sorted(map(tuple, frame.astype(object).values.tolist())) == sorted(map(tuple, direct["results"]))
    assert str(frame["country"].dtype) == "string"
    assert frame["purchases"].dtype.kind == "i"  # UInt64 lands signed: every count fits in int64
    assert frame["revenue"].dtype.kind == "f"
    assert len(frame) > 0


def test_materialization_metadata(posthog, local_server):
    key = dg.AssetKey(["posthog", "top_events"])
    result = materialize(
        build_endpoint_assets([EndpointSpec("top_events", variables={"min_count": 10})]), posthog
    )
    frame = result.asset_value(key)
    md = materialization(result, key).metadata

    assert md["dagster/row_count"].value == len(frame) > 0
    schema = md["dagster/column_schema"].schema
    assert [(c.name, c.type) for c in schema.columns] == [
        ("event", "String"),
        ("events", "UInt64"),
        ("persons", "UInt64"),
    ]
    preview = md["preview"].value
    assert preview.splitlines()[0].replace(" ", "") == "|event|events|persons|"
    assert str(frame.iloc[0]["event"]) in preview
    assert md["posthog/endpoint"].value == "top_events"
    assert md["posthog/version"].value >= 1
    assert md["posthog/is_cached"].value is False  # force_async always computes
    assert md["posthog/refresh"].value == "force_async"
    assert md["posthog/query_id"].value  # sent on both dialects, so the run can be cancelled by it
    assert md["posthog/total_duration_s"].value >= 0
    if local_server.dialect == "documented":
        assert md["posthog/server_duration_s"].value >= 0  # from the async query's status
    else:
        assert "posthog/server_duration_s" not in md  # synchronous runs report no server timing
    assert isinstance(md["posthog/last_refresh"].value, float)
    assert md["posthog/url"].value.startswith(local_server.url) and "top_events" in md["posthog/url"].value
    assert md["posthog/variables"].value == {"min_count": 10}
    assert local_server.api_key not in repr(md)


def test_daily_partition_window_becomes_variables(posthog):
    daily = dg.DailyPartitionsDefinition(start_date="2026-01-01")
    key = dg.AssetKey(["posthog", "daily_signups"])
    assets = build_endpoint_assets(
        [
            EndpointSpec(
                "daily_signups",
                partitions_def=daily,
                partition_variables=PartitionVariables(start="since", end="until"),
            )
        ]
    )
    # Pick a day inside the generated data: the server's data spans the 90 days before today.
    day = (pd.Timestamp.now(tz="UTC").normalize() - pd.Timedelta(days=3)).strftime("%Y-%m-%d")
    result = materialize(assets, posthog, partition_key=day)
    frame = result.asset_value(key)
    md = materialization(result, key).metadata

    assert md["posthog/variables"].value == {
        "since": day,
        "until": (pd.Timestamp(day) + pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
    }
    assert len(frame) == 1
    assert frame["day"].iloc[0] == pd.Timestamp(day).date()  # a Date lands as a date
    assert frame["signups"].iloc[0] > 0


def test_static_partition_key_becomes_a_variable(posthog, local_server, local_client, run_body):
    plans = dg.StaticPartitionsDefinition(["starter", "pro"])
    key = dg.AssetKey(["posthog", "revenue_by_country"])
    assets = build_endpoint_assets(
        [
            EndpointSpec(
                "revenue_by_country", partitions_def=plans, partition_variables=PartitionVariables(key="plan")
            )
        ]
    )
    frame = materialize(assets, posthog, partition_key="starter").asset_value(key)
    direct = local_client.post(
        "endpoints/revenue_by_country/run/", json=run_body(local_server, {"plan": "starter"})
    ).json()
    assert sorted(frame["revenue"].tolist()) == sorted(row[2] for row in direct["results"])


def test_selected_endpoints_run_concurrently(posthog, server_control, endpoint_factory):
    names = [endpoint_factory("SELECT 1 AS one") for _ in range(4)]
    server_control.set_knobs(latency_by_endpoint={name: 1.0 for name in names})
    server_control.reset_stats()
    materialize(build_endpoint_assets(names, max_concurrency=4), posthog)

    runs = [e for e in server_control.executions() if e["endpoint"] in names]
    assert len(runs) == 4
    # Every execution overlapped every other one on the server: they ran at the same time.
    starts = [datetime.fromisoformat(r["started_at"]) for r in runs]
    ends = [datetime.fromisoformat(r["finished_at"]) for r in runs]
    assert max(starts) < min(ends)


def test_max_concurrency_bounds_the_overlap(posthog, server_control, endpoint_factory):
    names = [endpoint_factory("SELECT 1 AS one") for _ in range(3)]
    server_control.set_knobs(latency_by_endpoint={name: 0.3 for name in names})
    server_control.reset_stats()
    materialize(build_endpoint_assets(names, max_concurrency=1), posthog)
    runs = sorted(
        (e for e in server_control.executions() if e["endpoint"] in names), key=lambda e: e["started_at"]
    )
    assert len(runs) == 3
    for earlier, later in pairwise(runs):
        assert datetime.fromisoformat(earlier["finished_at"]) <= datetime.fromisoformat(later["started_at"])


def test_failed_endpoint_fails_alone_and_keeps_its_previous_materialization(
    posthog, local_client, endpoint_factory
):
    good = endpoint_factory("SELECT 2 AS two")
    flaky = endpoint_factory("SELECT toDate({variables.day}) AS d", variables={"day": "2026-01-01"})
    assets = build_endpoint_assets([good, flaky])
    instance = dg.DagsterInstance.ephemeral()
    first = materialize(assets, posthog, instance=instance)
    flaky_key = dg.AssetKey(["posthog", flaky])
    assert instance.get_latest_materialization_event(flaky_key).run_id == first.run_id

    # The saved default now fails in the engine: the run fails for that endpoint only.
    r = local_client.patch(
        f"endpoints/{flaky}/",
        json={
            "query": {
                "kind": "HogQLQuery",
                "query": "SELECT toDate({variables.day}) AS d",
                "variables": {VARIABLE: {"variableId": VARIABLE, "code_name": "day", "value": "not a date"}},
            }
        },
    )
    assert r.status_code == 200, r.text
    second = materialize(assets, posthog, instance=instance, raise_on_error=False)
    assert not second.success
    assert instance.get_latest_materialization_event(dg.AssetKey(["posthog", good])).run_id == second.run_id
    assert instance.get_latest_materialization_event(flaky_key).run_id == first.run_id
    failure = next(e for e in second.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert (
        flaky in message and "1 of 2" in message and good not in message.split("failed:")[-1].split(flaky)[0]
    )


def test_schema_drift_check_warns_on_changed_columns(posthog, local_client, endpoint_factory):
    name = endpoint_factory("SELECT 1 AS a, 'x' AS b")
    assets = build_endpoint_assets([name])
    instance = dg.DagsterInstance.ephemeral()

    def drift_result(run):
        [evaluation] = run.get_asset_check_evaluations()
        return evaluation

    first = drift_result(materialize(assets, posthog, instance=instance))
    assert first.passed
    unchanged = drift_result(materialize(assets, posthog, instance=instance))
    assert unchanged.passed

    local_client.patch(
        f"endpoints/{name}/", json={"query": {"kind": "HogQLQuery", "query": "SELECT 1.5 AS a, 'x' AS c"}}
    )
    changed = drift_result(materialize(assets, posthog, instance=instance))
    assert not changed.passed
    assert changed.severity == dg.AssetCheckSeverity.WARN
    text = changed.description
    assert "`b` removed" in text and "`c` added" in text and "`a` changed type: UInt8 -> Float64" in text

    # Run on its own (the UI's "Execute check"), the check compares the last two materializations.
    check = dg.AssetCheckKey(dg.AssetKey(["posthog", name]), "schema_unchanged")
    alone = drift_result(
        materialize(assets, posthog, instance=instance, selection=dg.AssetSelection.checks(check))
    )
    assert not alone.passed and alone.description == changed.description


def test_pinned_version_runs_that_version(posthog, local_client, endpoint_factory):
    name = endpoint_factory("SELECT 'first' AS which")
    local_client.patch(
        f"endpoints/{name}/", json={"query": {"kind": "HogQLQuery", "query": "SELECT 'second' AS which"}}
    )
    key = dg.AssetKey(["posthog", name])
    pinned = materialize(build_endpoint_assets([EndpointSpec(name, version=1)]), posthog)
    current = materialize(build_endpoint_assets([name]), posthog)
    assert pinned.asset_value(key)["which"].tolist() == ["first"]
    assert materialization(pinned, key).metadata["posthog/version"].value == 1
    assert current.asset_value(key)["which"].tolist() == ["second"]
    assert materialization(current, key).metadata["posthog/version"].value == 2


def test_subset_selection_runs_only_selected(posthog, server_control, endpoint_factory):
    a, b = endpoint_factory("SELECT 1 AS x"), endpoint_factory("SELECT 2 AS x")
    server_control.reset_stats()
    result = materialize(build_endpoint_assets([a, b]), posthog, selection=[dg.AssetKey(["posthog", a])])
    assert result.success
    assert {e["endpoint"] for e in server_control.executions()} == {a}


def test_every_row_lands_although_the_server_cuts_at_100_without_a_limit(
    posthog, local_server, local_client, endpoint_factory
):
    name = endpoint_factory("SELECT number AS n FROM numbers(250) ORDER BY n")
    frame = materialize(build_endpoint_assets([name]), posthog).asset_value(dg.AssetKey(["posthog", name]))
    assert frame["n"].tolist() == list(range(250))

    # Asked without a limit, both dialects answer the first 100 rows; only the documented one says so.
    cut = local_client.post(f"endpoints/{name}/run/", json={}).json()
    assert [row[0] for row in cut["results"]] == list(range(100))
    assert cut["hasMore"] is (local_server.dialect == "documented")


def test_the_strict_server_refuses_variables_values_once_then_never_sees_it(current_server):
    """Auto-detection on PostHog today: one refused run in the whole process, then only its own fields."""
    control = current_server.control
    control.reset()
    posthog = PostHogEndpointsResource(
        host=current_server.url,
        project_id=str(current_server.project_id),
        personal_api_key=current_server.api_key,
    )
    with httpx.Client(
        base_url=f"{current_server.url}/api/projects/1/", headers=current_server.headers
    ) as http:
        refused = http.post("endpoints/revenue_by_country/run/", json={"variables_values": {"plan": "pro"}})
    assert refused.status_code == 400
    assert refused.json() == {
        "type": "validation_error",
        "code": "invalid_input",
        "detail": "Extra inputs are not permitted",
        "attr": "variables_values",
    }
    control.reset_stats()

    specs = [
        EndpointSpec("revenue_by_country", variables={"plan": "pro"}),
        EndpointSpec("top_events", variables={"min_count": 5}),
    ]
    run_route = "POST /api/projects/{project_id}/endpoints/{name}/run/"
    assert materialize(build_endpoint_assets(specs), posthog).success
    # The endpoints start together, before any answer: each may be refused once, and resent.
    first = control.stats()["run_body_fields"]
    assert 1 <= first["variables_values"] <= len(specs)
    assert control.request_count(run_route) == len(specs) + first["variables_values"]

    control.reset_stats()
    for _ in range(2):  # two more Dagster runs: new resources and clients, in the same process
        assert materialize(build_endpoint_assets(specs), posthog).success
    later = control.stats()["run_body_fields"]
    assert "variables_values" not in later and later["variables"] == 2 * len(specs)
    assert control.request_count(run_route) == 2 * len(specs) == later["client_query_id"] == later["limit"]


@pytest.mark.parametrize("refresh", ["cache", "force", "direct"])
def test_current_refresh_names_work_where_the_server_offers_them(
    posthog, local_server, refresh, wait_until, local_client
):
    """PostHog today's three modes in an asset: mapped on a documented server, except direct (refused)."""
    name = "feature_usage_by_plan"  # materialized in the demo: direct reads its query instead of its table
    wait_until(
        lambda: local_client.get(f"endpoints/{name}/").json()["materialization"].get("status") == "Completed"
    )
    key = dg.AssetKey(["posthog", name])
    result = materialize(
        build_endpoint_assets([EndpointSpec(name, refresh=refresh)]), posthog, raise_on_error=False
    )
    if refresh == "direct" and local_server.dialect == "documented":
        message = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error.message
        assert "only offered by PostHog's current API" in message and "force_blocking" in message
        return
    assert result.success and len(result.asset_value(key)) > 0
    assert materialization(result, key).metadata["posthog/refresh"].value == refresh
