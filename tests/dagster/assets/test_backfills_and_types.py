"""Backfills with any IO manager, and integer columns users can compute with (issue 14)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import dagster as dg
import duckdb
import pytest
from dagster_duckdb_pandas import DuckDBPandasIOManager

from endpoints_dagster import (
    EndpointSpec,
    PartitionVariables,
    PostHogEndpointsResource,
    build_endpoint_assets,
)

pytestmark = pytest.mark.integration

DAILY = dg.DailyPartitionsDefinition(start_date="2026-09-01")
RANGE_TAGS = {
    "dagster/asset_partition_range_start": "2026-09-01",
    "dagster/asset_partition_range_end": "2026-09-02",
}
SIGNUPS = dg.AssetKey(["posthog", "daily_signups"])


@pytest.fixture
def posthog(local_server) -> PostHogEndpointsResource:
    return PostHogEndpointsResource(
        host=local_server.url,
        project_id=local_server.project_id,  # an int, as the client takes it
        personal_api_key=local_server.api_key,
        poll_interval=0.05,
    )


def _signups(**fields) -> EndpointSpec:
    return EndpointSpec(
        "daily_signups",
        partitions_def=DAILY,
        partition_variables=PartitionVariables(start="since", end="until"),
        **fields,
    )


def test_a_range_run_with_a_filesystem_io_manager_fails_before_querying(posthog, server_control, tmp_path):
    assets = build_endpoint_assets([_signups()])
    result = dg.materialize(
        assets,
        resources={"posthog": posthog, "io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path))},
        tags=RANGE_TAGS,
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert "2 partitions" in message and "'io_manager'" in message
    assert "backfill_policy=dg.BackfillPolicy.multi_run(1)" in message and "Nothing was queried" in message
    assert server_control.executions(endpoint="daily_signups") == []


def test_backfill_policy_is_the_users_per_spec():
    default, own = build_endpoint_assets(
        [
            _signups(),
            EndpointSpec("top_events", partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.multi_run(1)),
        ]
    )
    assert default.backfill_policy == dg.BackfillPolicy.single_run()
    assert own.backfill_policy == dg.BackfillPolicy.multi_run(1)


def test_a_range_lands_in_one_query_with_an_io_manager_that_stores_ranges(posthog, server_control, tmp_path):
    # Two days inside the generated data (the 90 days before today).
    first, second = (date.today() - timedelta(days=days) for days in (5, 4))
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": second.isoformat(),
    }
    assets = build_endpoint_assets([_signups(metadata={"partition_expr": "day"})])
    io_manager = DuckDBPandasIOManager(database=str(tmp_path / "t.duckdb"))
    result = dg.materialize(assets, resources={"posthog": posthog, "io_manager": io_manager}, tags=tags)
    assert result.success
    assert len(server_control.executions(endpoint="daily_signups")) == 1  # one query for the two days
    with duckdb.connect(str(tmp_path / "t.duckdb")) as db:
        [(data_type,)] = db.execute(
            "SELECT data_type FROM duckdb_columns() "
            "WHERE table_name = 'daily_signups' AND column_name = 'day'"
        ).fetchall()
        days = {d for (d,) in db.execute("SELECT day FROM posthog.daily_signups").fetchall()}
    assert data_type == "DATE"  # a ClickHouse Date stays a date in the warehouse
    assert days and days <= {first, second}


def test_unsigned_counts_land_signed_unless_kept(posthog):
    spec = EndpointSpec("revenue_by_country", variables={"plan": "pro"})
    key = dg.AssetKey(["posthog", "revenue_by_country"])
    frame = dg.materialize(build_endpoint_assets([spec]), resources={"posthog": posthog}).asset_value(key)
    assert str(frame["purchases"].dtype) == "int64"
    assert (frame["purchases"] - frame["purchases"] - 1).min() == -1  # no wrap-around

    kept = build_endpoint_assets([replace(spec, keep_unsigned=True)])
    frame = dg.materialize(kept, resources={"posthog": posthog}).asset_value(key)
    assert str(frame["purchases"].dtype) == "uint64"
    keeping = PostHogEndpointsResource(
        host=posthog.host,
        project_id=posthog.project_id,
        personal_api_key=posthog.personal_api_key,
        keep_unsigned=True,
    )
    also = dg.materialize(build_endpoint_assets([spec]), resources={"posthog": keeping}).asset_value(key)
    assert str(also["purchases"].dtype) == "uint64"
