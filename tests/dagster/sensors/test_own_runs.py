"""Which Dagster run made an endpoint execution: the sensor ignores those, and only those."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dagster as dg

from endpoints_dagster.sensors.own_runs import CLOCK_SKEW_SECONDS, dagster_run_of

KEY = dg.AssetKey(["posthog", "daily_signups"])
daily = dg.DailyPartitionsDefinition(start_date="2026-01-01")


@dg.asset(key=KEY, partitions_def=daily)
def daily_signups() -> None:
    """Stands for the endpoint asset: what matters here is which run materialized it, and when."""


def materialize(instance: dg.DagsterInstance, partition: str) -> dg.RunRecord:
    run_id = dg.materialize([daily_signups], instance=instance, partition_key=partition).run_id
    return instance.get_run_record_by_id(run_id)


def moment_inside(record: dg.RunRecord) -> datetime:
    return datetime.fromtimestamp((record.start_time + record.end_time) / 2, tz=timezone.utc)


def test_an_execution_during_an_earlier_partition_run_belongs_to_that_run():
    instance = dg.DagsterInstance.ephemeral()
    first = materialize(instance, "2026-01-01")
    second = materialize(instance, "2026-01-02")  # now the asset's latest run
    assert dagster_run_of(instance, [KEY], moment_inside(first)) == first.dagster_run.run_id
    assert dagster_run_of(instance, [KEY], moment_inside(second)) == second.dagster_run.run_id


def test_an_execution_between_runs_belongs_to_none():
    instance = dg.DagsterInstance.ephemeral()
    first = materialize(instance, "2026-01-01")
    after = datetime.fromtimestamp(first.end_time, tz=timezone.utc) + timedelta(
        seconds=CLOCK_SKEW_SECONDS + 1
    )
    assert dagster_run_of(instance, [KEY], after) is None
    before = datetime.fromtimestamp(first.start_time, tz=timezone.utc) - timedelta(
        seconds=CLOCK_SKEW_SECONDS + 1
    )
    assert dagster_run_of(instance, [KEY], before) is None
    # A run of another asset never claims the execution.
    assert dagster_run_of(instance, [dg.AssetKey(["other"])], moment_inside(first)) is None
