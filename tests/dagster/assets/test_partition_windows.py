"""Partition windows shorter than a day keep their time of day in the variables."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg

from endpoints_dagster import EndpointSpec, PartitionVariables


def _window(partitions_def: dg.TimeWindowPartitionsDefinition, key: str) -> tuple[datetime, datetime]:
    window = partitions_def.time_window_for_partition_key(key)
    return window.start, window.end


def test_hourly_windows_are_not_collapsed_to_their_day():
    hourly = dg.HourlyPartitionsDefinition(start_date="2026-11-01-00:00")
    spec = EndpointSpec(
        "hourly_events",
        partitions_def=hourly,
        partition_variables=PartitionVariables(start="since", end="until"),
    )
    values = spec.variables_for("2026-11-01-05:00", _window(hourly, "2026-11-01-05:00"))
    # With only the date, since == until and the endpoint would answer an empty window.
    assert values == {"since": "2026-11-01 05:00:00", "until": "2026-11-01 06:00:00"}


def test_daily_windows_stay_plain_dates_and_an_explicit_format_wins():
    daily = dg.DailyPartitionsDefinition(start_date="2026-11-01")
    spec = EndpointSpec(
        "d", partitions_def=daily, partition_variables=PartitionVariables(start="since", end="until")
    )
    assert spec.variables_for("2026-11-02", _window(daily, "2026-11-02")) == {
        "since": "2026-11-02",
        "until": "2026-11-03",
    }
    pinned = PartitionVariables(start="since", date_format="%Y-%m-%d")
    start = datetime(2026, 11, 1, 5, tzinfo=timezone.utc)
    assert pinned.values_for(None, (start, start)) == {"since": "2026-11-01"}
