"""The sensor's tick algorithm and cursor, without Dagster or HTTP: a fake `fetch` stands for
one `last_execution_times` request and records what it was asked."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from endpoints_dagster.sensors.cursor import (
    POSTHOG_ROW_CAP,
    CursorState,
    execution_key,
    parse_cursor,
    run_tick,
)

T0 = datetime(2026, 11, 20, 8, 0, 0, 123456, tzinfo=timezone.utc)


class FakePostHog:
    """Last execution times held in memory; `calls` lists the names of every request."""

    def __init__(self, times=None, row_cap=None, fail=False):
        self.times: dict[str, datetime] = dict(times or {})
        self.row_cap = row_cap
        self.fail = fail
        self.calls: list[list[str]] = []

    def __call__(self, names):
        self.calls.append(list(names))
        if self.fail:
            raise RuntimeError("PostHog is down")
        rows = {n: self.times[n] for n in names if n in self.times}
        if self.row_cap is not None:
            rows = dict(list(rows.items())[: self.row_cap])
        return rows


def tick(names, state, fetch, **kwargs):
    kwargs.setdefault("chunk_size", 200)
    kwargs.setdefault("budget_seconds", 40.0)
    return run_tick(names, state, fetch, **kwargs)


def test_first_tick_records_a_baseline_and_launches_nothing():
    fetch = FakePostHog({"a": T0})
    outcome = tick(["a", "b"], CursorState(), fetch)
    assert outcome.executions == []
    assert sorted(outcome.baselined) == ["a", "b"]
    # "b" never ran: recorded as null, so its first run later is an execution, not a baseline.
    assert outcome.cursor.seen == {"a": T0, "b": None}
    assert json.loads(outcome.cursor.to_json()) == {"a": "2026-11-20T08:00:00.123456+00:00", "b": None}


def test_first_tick_can_trigger_for_endpoints_that_ran():
    outcome = tick(["a", "b"], CursorState(), FakePostHog({"a": T0}), trigger_on_first_check=True)
    assert [(e.name, e.executed_at, e.first_check) for e in outcome.executions] == [("a", T0, True)]


def test_a_new_execution_triggers_once_and_a_repeat_tick_finds_nothing():
    fetch = FakePostHog({"a": T0})
    state = tick(["a", "b"], CursorState(), fetch).cursor
    fetch.times["a"] = T0 + timedelta(minutes=5)
    first = tick(["a", "b"], state, fetch)
    assert [(e.name, e.executed_at, e.previous) for e in first.executions] == [
        ("a", T0 + timedelta(minutes=5), T0)
    ]
    second = tick(["a", "b"], first.cursor, fetch)
    assert second.executions == []


def test_first_run_of_an_endpoint_that_never_ran_triggers():
    fetch = FakePostHog({})
    state = tick(["b"], CursorState(), fetch).cursor
    fetch.times["b"] = T0
    outcome = tick(["b"], state, fetch)
    assert [(e.name, e.previous) for e in outcome.executions] == [("b", None)]


def test_the_run_key_is_the_same_for_the_same_execution_whatever_its_offset():
    other_zone = T0.astimezone(timezone(timedelta(hours=2)))
    assert execution_key("a", T0) == execution_key("a", other_zone) == "a:2026-11-20T08:00:00.123456+00:00"
    assert execution_key("a", T0) != execution_key("a", T0 + timedelta(microseconds=1))


def test_absent_or_older_times_never_move_the_cursor_back_or_trigger():
    fetch = FakePostHog({"a": T0})
    state = tick(["a"], CursorState(), fetch).cursor
    fetch.times.clear()  # outside PostHog's 6-month window
    outcome = tick(["a"], state, fetch)
    assert outcome.executions == [] and outcome.cursor.seen == {"a": T0}
    fetch.times["a"] = T0 - timedelta(hours=1)  # a stale read
    outcome = tick(["a"], outcome.cursor, fetch)
    assert outcome.executions == [] and outcome.cursor.seen == {"a": T0}


def test_a_newly_watched_endpoint_is_baselined_while_the_others_compare():
    fetch = FakePostHog({"a": T0, "c": T0})
    state = tick(["a"], CursorState(), fetch).cursor
    fetch.times["a"] = T0 + timedelta(seconds=1)
    outcome = tick(["a", "c"], state, fetch)
    assert [e.name for e in outcome.executions] == ["a"]
    assert outcome.baselined == ["c"]


def test_endpoints_no_longer_watched_leave_the_cursor():
    state = CursorState(seen={"a": T0, "gone": T0})
    outcome = tick(["a"], state, FakePostHog({"a": T0}))
    assert set(outcome.cursor.seen) == {"a"}


def test_a_thousand_names_cost_one_request_per_chunk():
    names = [f"endpoint_{i:04d}" for i in range(1000)]
    fetch = FakePostHog({n: T0 for n in names[::37]})
    outcome = tick(names, CursorState(), fetch, chunk_size=200)
    assert outcome.requests == len(fetch.calls) == 5
    assert all(len(call) == 200 for call in fetch.calls)
    assert sorted(n for call in fetch.calls for n in call) == sorted(names)


def test_an_answer_cut_at_posthogs_row_cap_is_completed_not_read_as_never_ran():
    names = [f"e{i:03d}" for i in range(200)]
    fetch = FakePostHog({n: T0 for n in names[:150]}, row_cap=POSTHOG_ROW_CAP)
    state = tick(names, CursorState(), fetch).cursor
    assert sum(1 for t in state.seen.values() if t is not None) == 150
    assert len(fetch.calls) == 2 and len(fetch.calls[1]) == 100  # the 100 names the cut answer lacked
    later = T0 + timedelta(minutes=1)
    fetch.times.update({n: later for n in names[100:150]})  # runs hidden behind the cap
    fetch.calls.clear()
    outcome = tick(names, state, fetch)
    assert sorted(e.name for e in outcome.executions) == names[100:150]


def test_a_failing_request_propagates_so_the_caller_keeps_its_cursor():
    state = CursorState(seen={"a": T0})
    with pytest.raises(RuntimeError, match="PostHog is down"):
        tick(["a"], state, FakePostHog(fail=True))
    assert state.seen == {"a": T0}


class SlowClock:
    """A monotonic clock that advances by `step` seconds on every fetch."""

    def __init__(self, step):
        self.now, self.step = 0.0, step

    def __call__(self):
        return self.now


def test_a_tick_over_budget_stops_between_chunks_and_the_next_continues_without_skipping():
    names = [f"e{i:02d}" for i in range(50)]  # 5 chunks of 10
    clock = SlowClock(step=15.0)
    base = FakePostHog({n: T0 for n in names})

    def slow_fetch(chunk):
        clock.now += clock.step
        return base(chunk)

    state = CursorState(seen={n: T0 for n in names})
    later = T0 + timedelta(minutes=1)
    base.times.update({"e05": later, "e45": later})  # one in the first chunk, one in the last
    first = run_tick(names, state, slow_fetch, chunk_size=10, budget_seconds=40.0, clock=clock)
    # 15 s per chunk: after two chunks (30 s) a third would end at 45 s > 40 s.
    assert len(base.calls) == 2 and first.stopped_early and first.cursor.resume == "e20"
    assert [e.name for e in first.executions] == ["e05"]
    assert first.cursor.seen["e45"] == T0  # not checked yet: left as it was

    clock.now = 0.0
    base.calls.clear()
    second = run_tick(names, first.cursor, slow_fetch, chunk_size=10, budget_seconds=40.0, clock=clock)
    assert base.calls[0][0] == "e20"
    clock.now = 0.0
    third = run_tick(names, second.cursor, slow_fetch, chunk_size=10, budget_seconds=40.0, clock=clock)
    assert [e.name for e in second.executions + third.executions] == ["e45"]
    assert third.cursor.resume is None  # the round is complete; the next tick starts at the top
    assert "$resume" not in json.loads(third.cursor.to_json())


def test_a_single_chunk_is_always_checked_even_when_it_alone_exceeds_the_budget():
    clock = SlowClock(step=100.0)
    fetch = FakePostHog({"a": T0})

    def slow_fetch(chunk):
        clock.now += clock.step
        return fetch(chunk)

    outcome = run_tick(["a", "b"], CursorState(), slow_fetch, chunk_size=1, budget_seconds=1.0, clock=clock)
    assert outcome.checked == ["a"] and outcome.cursor.resume == "b"


def test_resume_survives_a_change_of_the_watch_list():
    state = CursorState(seen={}, resume="m_removed")
    fetch = FakePostHog({})
    run_tick(["a", "n", "z"], state, fetch, chunk_size=10, budget_seconds=40.0)
    assert fetch.calls == [["n", "z"]]  # starts at the first name after the removed one


def test_cursor_round_trip():
    state = CursorState(seen={"a": T0, "b": None}, resume="b")
    parsed, problems = parse_cursor(state.to_json())
    assert problems == [] and parsed.seen == state.seen and parsed.resume == "b"


@pytest.mark.parametrize("text", ["garbage", "[1, 2]", '"a"', "{"])
def test_an_unreadable_cursor_is_reported_and_read_as_empty(text):
    state, problems = parse_cursor(text)
    assert state.seen == {} and state.resume is None
    assert len(problems) == 1


def test_unreadable_entries_are_dropped_one_by_one():
    state, problems = parse_cursor(
        json.dumps({"a": "2026-11-20T08:00:00Z", "b": "yesterday", "c": 5, "$future": 1})
    )
    assert state.seen == {"a": datetime(2026, 11, 20, 8, tzinfo=timezone.utc)}
    assert problems and "'b'" in problems[0] and "'c'" in problems[0]


def test_no_cursor_is_not_a_problem():
    assert parse_cursor(None) == (CursorState(), [])
