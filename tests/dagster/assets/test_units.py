"""Unit tests of the asset building blocks that need no server: specs, translator, fan-out."""

from __future__ import annotations

import _thread
import signal
import threading
from datetime import datetime, timezone
from types import SimpleNamespace

import dagster as dg
import pandas as pd
import pytest

from endpoints_dagster.assets.factory import build_endpoint_assets
from endpoints_dagster.assets.fanout import ProgressThrottle, describe_progress, run_concurrently
from endpoints_dagster.metadata import markdown_preview, schema_changes
from endpoints_dagster.specs import EndpointSpec, PartitionVariables
from endpoints_dagster.translator import PostHogEndpointsTranslator


@pytest.mark.parametrize("bad", ["../x", "%2e%2e", "has space", "9starts_with_digit", "a" * 129, ""])
def test_spec_refuses_names_outside_the_contract(bad):
    with pytest.raises(ValueError, match="invalid endpoint name"):
        EndpointSpec(bad)


def test_spec_refuses_unknown_refresh_and_bad_version():
    with pytest.raises(ValueError, match="refresh='sometimes'"):
        EndpointSpec("x", refresh="sometimes")
    with pytest.raises(ValueError, match="positive integer"):
        EndpointSpec("x", version=0)


def test_spec_refuses_a_variable_set_twice():
    with pytest.raises(ValueError, match="since"):
        EndpointSpec(
            "x",
            variables={"since": "2026-01-01"},
            partitions_def=dg.DailyPartitionsDefinition("2026-01-01"),
            partition_variables=PartitionVariables(start="since"),
        )


def test_time_window_becomes_start_and_end_variables():
    spec = EndpointSpec(
        "daily_signups",
        variables={"plan": "pro"},
        partitions_def=dg.DailyPartitionsDefinition("2026-01-01"),
        partition_variables=PartitionVariables(start="since", end="until"),
    )
    window = (datetime(2026, 3, 4, tzinfo=timezone.utc), datetime(2026, 3, 5, tzinfo=timezone.utc))
    assert spec.variables_for("2026-03-04", window) == {
        "plan": "pro",
        "since": "2026-03-04",
        "until": "2026-03-05",
    }
    # Unpartitioned runs send the fixed variables only.
    assert spec.variables_for(None, None) == {"plan": "pro"}


def test_static_key_becomes_a_variable_and_a_range_is_refused():
    spec = EndpointSpec(
        "usage",
        partitions_def=dg.StaticPartitionsDefinition(["free", "pro"]),
        partition_variables=PartitionVariables(key="plan"),
    )
    assert spec.variables_for("pro", None) == {"plan": "pro"}
    window = (datetime(2026, 3, 4), datetime(2026, 3, 6))
    with pytest.raises(ValueError, match="range"):
        spec.variables_for(None, window)


def test_window_variables_need_a_time_window():
    pv = PartitionVariables(start="since")
    with pytest.raises(ValueError, match="not time-based"):
        pv.values_for("pro", None)


def test_translator_defaults_and_subclass():
    spec = EndpointSpec(
        "top_events", description="Most frequent events", hogql="SELECT 1", saved_variables={"n": 5}
    )
    asset_spec = PostHogEndpointsTranslator().get_asset_spec(spec)
    assert asset_spec.key == dg.AssetKey(["posthog", "top_events"])
    assert asset_spec.group_name == "posthog"
    assert asset_spec.kinds == {"posthog"}
    assert "Most frequent events" in asset_spec.description
    assert "```sql\nSELECT 1\n```" in asset_spec.description
    assert asset_spec.metadata["posthog/endpoint"] == "top_events"

    class Owned(PostHogEndpointsTranslator):
        def get_asset_spec(self, endpoint):
            spec = super().get_asset_spec(endpoint)
            return spec.replace_attributes(key=spec.key.with_prefix("analytics"), owners=["team:growth"])

    custom = Owned().get_asset_spec(spec)
    assert custom.key == dg.AssetKey(["analytics", "posthog", "top_events"])
    assert custom.owners == ["team:growth"]


def test_long_endpoint_names_make_valid_assets():
    name = "n" * 128  # the longest name the contract allows; tag values stop at 63 characters
    [assets] = build_endpoint_assets([name])
    spec = next(iter(assets.specs))
    assert spec.metadata["posthog/endpoint"] == name
    assert "posthog/endpoint" not in spec.tags


def _progress(rows_read, total, elapsed=1.0):
    return SimpleNamespace(
        query_progress=SimpleNamespace(rows_read=rows_read, estimated_rows_total=total, time_elapsed=elapsed)
    )


def test_progress_is_logged_at_most_every_few_seconds():
    now = [100.0]
    lines: list[str] = []
    throttle = ProgressThrottle("endpoint 'x'", lines.append, every_seconds=5.0, clock=lambda: now[0])
    throttle(_progress(10, 100))
    now[0] += 1.0
    throttle(_progress(20, 100))  # too soon: dropped
    now[0] += 5.0
    throttle(_progress(50, 100))
    assert lines == [
        "endpoint 'x': 10 / 100 rows read (10%), 1.0 s elapsed",
        "endpoint 'x': 50 / 100 rows read (50%), 1.0 s elapsed",
    ]


def test_progress_without_estimate():
    assert (
        describe_progress(SimpleNamespace(rows_read=1234, estimated_rows_total=0, time_elapsed=None))
        == "1,234 rows read"
    )


def test_fanout_runs_jobs_at_once_and_reports_errors():
    barrier = threading.Barrier(3, timeout=120)  # all three must be running at the same time

    def work(job, cancel, log_line):
        barrier.wait()
        log_line(f"{job} done")
        if job == "bad":
            raise RuntimeError("boom")
        return job.upper()

    logged: list[str] = []
    outcomes = list(run_concurrently(["a", "b", "bad"], work, max_concurrency=3, log=logged.append))
    by_job = {o.job: o for o in outcomes}
    assert by_job["a"].result == "A" and by_job["b"].result == "B"
    assert isinstance(by_job["bad"].error, RuntimeError)
    assert sorted(logged) == ["a done", "b done", "bad done"]


def test_fanout_cancels_every_worker_when_interrupted():
    """An interrupt of the calling thread (a terminated run) reaches every running worker."""
    started = threading.Barrier(3, timeout=120)
    cancelled: list[str] = []

    def work(job, cancel, log_line):
        started.wait()
        assert cancel.wait(timeout=30), "worker was never told to cancel"
        cancelled.append(job)

    def interrupt_when_running():
        started.wait()
        _thread.interrupt_main()  # what SIGINT does to the step process

    # Python's own SIGINT handler, whatever an earlier test left installed (Dagster replaces it while
    # a run executes, with a handler that only records the interrupt).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=interrupt_when_running, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            list(run_concurrently(["a", "b"], work, max_concurrency=2, log=lambda line: None))
    finally:
        signal.signal(signal.SIGINT, previous)
    # The interrupt is re-raised only after both workers saw the cancellation.
    assert sorted(cancelled) == ["a", "b"]


def test_schema_changes_lists_what_changed():
    before = dg.TableSchema(
        columns=[
            dg.TableColumn("day", "Date"),
            dg.TableColumn("n", "UInt64"),
            dg.TableColumn("gone", "String"),
        ]
    )
    after = dg.TableSchema(
        columns=[
            dg.TableColumn("day", "Date"),
            dg.TableColumn("n", "Float64"),
            dg.TableColumn("new", "String"),
        ]
    )
    assert schema_changes(before, after) == [
        "column `gone` removed (was String)",
        "column `new` added (String)",
        "column `n` changed type: UInt64 -> Float64",
    ]
    assert schema_changes(before, before) == []
    assert schema_changes(None, after) == []


def test_preview_shows_fewer_rows_of_a_wide_table_to_stay_inline():
    narrow = pd.DataFrame({"n": range(50)})
    wide = pd.DataFrame({f"column_{i}": ["a fairly long text value"] * 50 for i in range(6)})
    narrow_preview = markdown_preview(narrow)
    assert narrow_preview.endswith("_10 of 50 rows_")
    wide_preview = markdown_preview(wide)
    table = wide_preview.split("\n\n")[0]
    assert len(table) <= 1000  # Dagster shows longer Markdown only behind a button
    assert wide_preview.endswith(" of 50 rows_") and len(table.splitlines()) >= 2 + 3
    assert markdown_preview(pd.DataFrame({"n": []})) == "_no rows_"


def test_op_names_say_which_endpoints_run():
    [single] = build_endpoint_assets(["top_events"])
    [group] = build_endpoint_assets(["revenue_by_country", "top_events", "daily-signups"])
    assert single.op.name == "posthog_endpoint_top_events"
    assert group.op.name == "posthog_revenue_by_country_and_2_more"
