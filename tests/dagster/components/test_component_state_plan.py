"""The saved endpoint list and the planning rules shared by the component and load_endpoint_specs."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import dagster as dg
import pytest
from component_helpers import demo_state

from endpoints_dagster.discovery.selection import (
    PARTITION_END,
    PARTITION_KEY,
    PARTITION_START,
    EndpointOverride,
    EndpointSelection,
    override_for,
    plan_specs,
)
from endpoints_dagster.discovery.state import STATE_FORMAT, EndpointsState, EndpointStateError

DAILY = dg.DailyPartitionsDefinition(start_date="2026-01-01")


def names(plan) -> list[str]:
    return [s.name for s in plan.specs]


# -- state --------------------------------------------------------------------------------------


def test_state_round_trips_through_json(tmp_path):
    state = demo_state()
    path = state.write(tmp_path / "deep" / "state")
    again = EndpointsState.read(path)
    assert again == state
    daily = next(e for e in again.endpoints if e.name == "daily_signups")
    assert daily.saved_variables == {"since": "2026-01-01", "until": "2026-02-01"}
    assert daily.current_version == 2
    assert "{variables.since}" in daily.hogql
    assert [e.is_active for e in again.endpoints if e.name == "retired_report"] == [False]
    # no temp files left beside it
    assert [p.name for p in path.parent.iterdir()] == ["state"]


def test_state_without_timestamps_is_stable_between_refreshes():
    a = demo_state().to_json()
    b = demo_state().to_json()
    a.pop("fetched_at"), b.pop("fetched_at")
    assert a == b
    assert [e["name"] for e in a["endpoints"]] == sorted(e["name"] for e in a["endpoints"])


def test_missing_state_file_names_the_command(tmp_path):
    with pytest.raises(EndpointStateError, match="dg utils refresh-defs-state"):
        EndpointsState.read(tmp_path / "nope")


@pytest.mark.parametrize(
    "text, match",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"format": STATE_FORMAT}), "no `endpoints` list"),
        (json.dumps({"format": "something/9", "endpoints": []}), "format 'something/9'"),
    ],
)
def test_unreadable_state_asks_for_a_refresh(text, match):
    with pytest.raises(EndpointStateError, match=match) as info:
        EndpointsState.loads(text)
    assert "refresh-defs-state" in str(info.value)


def test_one_malformed_entry_is_reported_not_fatal():
    data = demo_state().to_json()
    data["endpoints"].append({"name": "half_written", "variables": "oops"})
    data["endpoints"].append(["not", "an", "object"])
    state = EndpointsState.loads(json.dumps(data))
    assert len(state.endpoints) == 4
    assert [label for label, _ in state.broken] == ["half_written", "#5"]
    plan = plan_specs(state)
    assert {s.name for s in plan.skipped} == {"half_written", "#5"}
    assert "daily_signups" in names(plan)


# -- selection ----------------------------------------------------------------------------------


def test_default_selection_takes_active_endpoints_only():
    plan = plan_specs(demo_state())
    assert names(plan) == ["daily_signups", "revenue_by_country", "top_events"]


def test_include_exclude_globs_and_inactive():
    state = demo_state()
    plan = plan_specs(state, selection=EndpointSelection(include=("*_*",), exclude=("top_*",)))
    assert names(plan) == ["daily_signups", "revenue_by_country"]
    plan = plan_specs(state, selection=EndpointSelection(include=("retired_report",), include_inactive=True))
    assert names(plan) == ["retired_report"]
    plan = plan_specs(state, selection=EndpointSelection(include=("retired_report",)))
    assert names(plan) == []


# -- overrides ----------------------------------------------------------------------------------


def test_spec_carries_description_hogql_and_saved_defaults():
    spec = next(s for s in plan_specs(demo_state()).specs if s.name == "daily_signups")
    assert spec.description == "Signups per day."
    assert spec.hogql.startswith("SELECT toDate(timestamp)")
    assert dict(spec.saved_variables) == {"since": "2026-01-01", "until": "2026-02-01"}
    assert spec.variables == {}
    assert spec.metadata["posthog/current_version"] == 2


def test_partition_placeholders_become_partition_variables():
    plan = plan_specs(
        demo_state(),
        overrides={
            "daily_signups": EndpointOverride(
                partitions_def=DAILY, variables={"since": PARTITION_START, "until": PARTITION_END}
            ),
            "revenue_by_country": EndpointOverride(
                partitions_def=dg.StaticPartitionsDefinition(["free", "pro"]),
                variables={"plan": PARTITION_KEY},
            ),
        },
    )
    by_name = {s.name: s for s in plan.specs}
    daily = by_name["daily_signups"]
    window = (datetime(2026, 3, 4, tzinfo=timezone.utc), datetime(2026, 3, 5, tzinfo=timezone.utc))
    assert daily.variables_for("2026-03-04", window) == {"since": "2026-03-04", "until": "2026-03-05"}
    assert by_name["revenue_by_country"].variables_for("free", None) == {"plan": "free"}
    assert not plan.skipped


def test_date_format_changes_how_window_bounds_are_written():
    plan = plan_specs(
        demo_state(),
        overrides={
            "daily_signups": EndpointOverride(
                partitions_def=DAILY, variables={"since": PARTITION_START}, date_format="%Y-%m-%d %H:%M:%S"
            )
        },
    )
    spec = plan.specs[0]
    window = (datetime(2026, 3, 4, tzinfo=timezone.utc), datetime(2026, 3, 5, tzinfo=timezone.utc))
    assert spec.variables_for("2026-03-04", window) == {"since": "2026-03-04 00:00:00"}


def test_glob_overrides_merge_under_the_exact_one():
    overrides = {
        "*": EndpointOverride(group_name="all", refresh="blocking", metadata={"a": 1}),
        "daily_*": EndpointOverride(group_name="daily", metadata={"b": 2}),
        "daily_signups": EndpointOverride(version=1, metadata={"a": 3}),
    }
    merged = override_for("daily_signups", overrides)
    assert merged.group_name == "daily"
    assert merged.refresh == "blocking"
    assert merged.version == 1
    assert dict(merged.metadata) == {"a": 3, "b": 2}
    assert override_for("top_events", overrides).group_name == "all"


def test_materialize_is_asked_per_endpoint_and_by_glob():
    overrides = {
        "daily_*": EndpointOverride(materialize=True),
        "top_events": EndpointOverride(group_name="x"),
    }
    plan = plan_specs(demo_state(), overrides=overrides)
    asked = {s.name: s.materialize for s in plan.specs}
    assert asked == {"daily_signups": True, "revenue_by_country": False, "top_events": False}


@pytest.mark.parametrize(
    "override, reason",
    [
        (EndpointOverride(variables={"sinse": "2026-01-01"}), "no such variable"),
        (EndpointOverride(variables={"since": PARTITION_START}), "no `partitions`"),
        (
            EndpointOverride(
                partitions_def=dg.StaticPartitionsDefinition(["a"]), variables={"since": PARTITION_START}
            ),
            "need time-window partitions",
        ),
        (
            EndpointOverride(
                partitions_def=DAILY, variables={"since": PARTITION_START, "until": PARTITION_START}
            ),
            "both take partition.start",
        ),
        (EndpointOverride(variables={"since": "day <partition.start>"}), "mixes text"),
        (EndpointOverride(version=3), "current version is 2"),
        (EndpointOverride(refresh="sometimes"), "refresh='sometimes'"),
    ],
)
def test_a_bad_override_skips_that_endpoint_only(override, reason):
    plan = plan_specs(demo_state(), overrides={"daily_signups": override})
    assert [s.name for s in plan.skipped] == ["daily_signups"]
    assert reason in plan.skipped[0].reason
    assert names(plan) == ["revenue_by_country", "top_events"]


def test_a_name_posthog_refuses_is_skipped_with_the_rule():
    data = demo_state().to_json()
    data["endpoints"].append({**data["endpoints"][0], "name": "../etc/passwd"})
    plan = plan_specs(EndpointsState.loads(json.dumps(data)))
    assert [s.name for s in plan.skipped] == ["../etc/passwd"]
    assert "invalid endpoint name" in plan.skipped[0].reason


def test_overrides_matching_nothing_are_reported():
    plan = plan_specs(
        demo_state(),
        overrides={
            "daily_signup": EndpointOverride(),
            "zzz_*": EndpointOverride(),
            "top_*": EndpointOverride(),
        },
    )
    assert plan.unused_overrides == ("daily_signup", "zzz_*")
