"""The execution sensor's memory and its tick: which executions were seen, and what is new.

Plain Python, no Dagster: `sensors.py` turns a `TickOutcome` into run requests, asset events
and a skip reason. Keeping the algorithm here makes its correctness rules testable without a
sensor context:

- An endpoint's entry in the cursor only changes when that endpoint was checked in this tick,
  and only moves forward in time, so no execution is ever skipped: executions between two
  checks collapse into the latest one, which triggers.
- A tick either completes (the new cursor is returned) or raises (the caller keeps the old
  cursor). A tick that runs out of time stops between chunks and records where to resume.

The cursor is JSON, readable in the Dagster UI: ``{name: iso time | null}``, where ``null``
means "checked, never ran", and a missing name means "never checked" (its first check only
records a baseline). Keys starting with ``$`` are bookkeeping, never endpoint names (a name
starts with a letter): ``$resume`` is the first name still to check in the current round.
"""

from __future__ import annotations

import bisect
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional

from endpoints_dagster.client.models import parse_datetime

__all__ = [
    "POSTHOG_ROW_CAP",
    "CursorState",
    "EndpointExecution",
    "TickOutcome",
    "execution_key",
    "format_time",
    "parse_cursor",
    "run_tick",
]

#: PostHog answers ``last_execution_times`` with a HogQL query without LIMIT in the "query"
#: limit context, so at most 100 rows come back. When an answer is that long and names are
#: missing from it, the missing ones are asked again instead of being taken as "never ran".
POSTHOG_ROW_CAP = 100

RESUME_KEY = "$resume"

Fetch = Callable[[Sequence[str]], Mapping[str, datetime]]


def format_time(moment: datetime) -> str:
    """The canonical text of an execution time: UTC ISO 8601 with offset (stable for run keys)."""
    return moment.astimezone(timezone.utc).isoformat()


def execution_key(name: str, executed_at: datetime) -> str:
    """The run key of one execution: the same execution always gives the same key."""
    return f"{name}:{format_time(executed_at)}"


@dataclass(frozen=True)
class EndpointExecution:
    """A new execution of a watched endpoint, found by the sensor.

    Attributes:
        name: The endpoint's name in PostHog.
        executed_at: When PostHog last executed it (timezone-aware, UTC).
        previous: The execution time the sensor knew before (``None``: never ran before, or the
            first check of this endpoint when the sensor triggers on first checks).
        first_check: True when this is the first time the sensor checked the endpoint.
    """

    name: str
    executed_at: datetime
    previous: Optional[datetime] = None
    first_check: bool = False

    @property
    def run_key(self) -> str:
        """``"{name}:{executed_at in UTC ISO 8601}"``: the same for the same execution."""
        return execution_key(self.name, self.executed_at)

    @property
    def executed_at_iso(self) -> str:
        return format_time(self.executed_at)


@dataclass
class CursorState:
    """The parsed cursor. ``seen[name]`` is the last execution time known (``None``: never ran)."""

    seen: dict[str, Optional[datetime]] = field(default_factory=dict)
    resume: Optional[str] = None

    def to_json(self) -> str:
        data: dict[str, Optional[str]] = {
            name: (format_time(moment) if moment else None) for name, moment in sorted(self.seen.items())
        }
        if self.resume:
            data[RESUME_KEY] = self.resume
        return json.dumps(data, separators=(",", ":"))


def parse_cursor(text: Optional[str]) -> tuple[CursorState, list[str]]:
    """Read a cursor; return the state and the problems found (empty when all was readable).

    Unreadable parts are dropped, never guessed: an unreadable entry makes its endpoint take a
    new baseline, which can miss the executions since the last good tick, but never launches a
    run for an execution that was already handled.
    """
    if text is None or text == "":
        return CursorState(), []
    try:
        data = json.loads(text)
    except ValueError as exc:
        return CursorState(), [f"the cursor is not JSON ({exc})"]
    if not isinstance(data, dict):
        return CursorState(), [f"the cursor is a JSON {type(data).__name__}, not an object {{name: time}}"]
    state, bad = CursorState(), []
    for key, value in data.items():
        if key == RESUME_KEY:
            state.resume = value if isinstance(value, str) else None
            continue
        if key.startswith("$"):
            continue  # bookkeeping of a later version: ignore, do not fail
        if value is None:
            state.seen[key] = None
            continue
        moment = parse_datetime(value) if isinstance(value, str) else None
        if moment is None:
            bad.append(key)
        else:
            state.seen[key] = moment.astimezone(timezone.utc)
    problems = []
    if bad:
        shown = ", ".join(repr(n) for n in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        problems.append(f"unreadable execution time(s) for {shown}")
    return state, problems


@dataclass
class TickOutcome:
    """What one tick found. ``cursor`` is the state to save; ``executions`` the ones to act on."""

    cursor: CursorState
    executions: list[EndpointExecution]
    checked: list[str]
    baselined: list[str]
    requests: int
    chunks_done: int
    chunks_total: int
    stopped_early: bool
    #: New executions that Dagster's own runs made, with the run id: recorded, not acted on.
    ignored: list[tuple[EndpointExecution, str]] = field(default_factory=list)

    def describe(self, last_tick: Optional[float], budget: float) -> str:
        """What the tick checked and found, in one line (the skip reason when nothing is new)."""
        checked = len(self.checked)
        requests = f"{self.requests} request{'s' if self.requests != 1 else ''}"
        known = {n: t for n, t in self.cursor.seen.items() if t is not None}
        never = sum(1 for n in self.checked if self.cursor.seen.get(n) is None)
        latest = max(known.items(), key=lambda item: item[1]) if known else None
        latest_text = (
            f"latest known execution: '{latest[0]}' at {format_time(latest[1])}"
            if latest
            else "none has run yet"
        )
        never_text = f"; {never:,} never ran (or not in the past 6 months)" if never else ""
        if self.executions:
            found = ", ".join(f"'{e.name}' at {e.executed_at_iso}" for e in self.executions[:5])
            more = f" and {len(self.executions) - 5} more" if len(self.executions) > 5 else ""
            text = (
                f"{len(self.executions)} new execution(s) among {checked:,} checked endpoint(s) "
                f"({requests}): {found}{more}."
            )
        elif self.baselined and len(self.baselined) == checked:
            text = (
                f"Recorded a baseline for {checked:,} endpoint(s) ({requests}; {latest_text}{never_text}). "
                "Executions after this baseline trigger the sensor."
            )
        else:
            since = (
                f"since the previous tick at {format_time(datetime.fromtimestamp(last_tick, timezone.utc))}"
                if last_tick
                else "since the times in the cursor"
            )
            baseline = (
                f" ({len(self.baselined):,} newly watched: baseline recorded)" if self.baselined else ""
            )
            text = (
                f"No new execution of the {checked:,} checked endpoint(s){baseline} {since} "
                f"({requests}; {latest_text}{never_text})."
            )
        if self.ignored:
            runs = ", ".join(sorted({run_id[:8] for _, run_id in self.ignored}))
            names = ", ".join(f"'{e.name}'" for e, _ in self.ignored[:5])
            text += f" Ignored {len(self.ignored)} execution(s) made by Dagster's own run(s) {runs}: {names}."
        if self.stopped_early:
            text += (
                f" Stopped after {self.chunks_done} of {self.chunks_total} chunk(s) to stay within the "
                f"{budget:g} s tick budget; the next tick continues at '{self.cursor.resume}'."
            )
        return text


def _chunks(names: Sequence[str], size: int) -> list[list[str]]:
    return [list(names[i : i + size]) for i in range(0, len(names), size)]


def _fetch_chunk(fetch: Fetch, chunk: Sequence[str]) -> tuple[dict[str, datetime], int]:
    """Times of one chunk; asks again for names a capped answer may have cut off."""
    pending, found, requests = list(chunk), {}, 0
    while pending:
        answer = fetch(pending)
        requests += 1
        wanted = set(pending)
        got = {name: moment for name, moment in answer.items() if name in wanted}
        found.update(got)
        if len(answer) < POSTHOG_ROW_CAP or not got or len(got) == len(pending):
            break
        pending = [name for name in pending if name not in got]
    return found, requests


def run_tick(
    names: Iterable[str],
    state: CursorState,
    fetch: Fetch,
    *,
    chunk_size: int,
    budget_seconds: float,
    trigger_on_first_check: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> TickOutcome:
    """Check the watched endpoints, chunk by chunk, and compare with the cursor.

    ``fetch(names)`` returns ``{name: last execution time}`` for the names that ran (one HTTP
    request). Any exception it raises propagates: the caller keeps the old cursor. At least
    one chunk is checked per tick; another only starts when the slowest chunk so far would
    still end within ``budget_seconds``.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    order = sorted(set(names))  # sorted, so a resume point survives changes of the watch list
    start_at = bisect.bisect_left(order, state.resume) if state.resume else 0
    if start_at >= len(order):
        start_at = 0
    chunks = _chunks(order[start_at:], chunk_size)
    total_chunks = math.ceil(len(order) / chunk_size) if order else 0

    watched = set(order)
    # Endpoints no longer watched leave the cursor, so it stays as large as the watch list.
    seen = {name: moment for name, moment in state.seen.items() if name in watched}
    executions: list[EndpointExecution] = []
    checked: list[str] = []
    baselined: list[str] = []
    requests, slowest, started = 0, 0.0, clock()
    resume: Optional[str] = None

    for index, chunk in enumerate(chunks):
        if index > 0 and (clock() - started) + slowest > budget_seconds:
            resume = chunk[0]
            break
        chunk_started = clock()
        answer, used = _fetch_chunk(fetch, chunk)
        requests += used
        slowest = max(slowest, clock() - chunk_started)
        for name in chunk:
            moment = answer.get(name)
            moment = moment.astimezone(timezone.utc) if moment is not None else None
            checked.append(name)
            if name not in seen:  # first check of this endpoint: a baseline
                baselined.append(name)
                seen[name] = moment
                if trigger_on_first_check and moment is not None:
                    executions.append(EndpointExecution(name, moment, None, first_check=True))
                continue
            before = seen[name]
            # Absent means "did not run in PostHog's 6-month window": keep what we knew. Only a
            # later time is an execution; an earlier one (a stale read) never moves us back.
            if moment is not None and (before is None or moment > before):
                executions.append(EndpointExecution(name, moment, before))
                seen[name] = moment

    done = len(checked)
    chunks_done = math.ceil(done / chunk_size) if done else 0
    return TickOutcome(
        cursor=CursorState(seen=seen, resume=resume),
        executions=executions,
        checked=checked,
        baselined=baselined,
        requests=requests,
        chunks_done=chunks_done,
        chunks_total=total_chunks,
        stopped_early=resume is not None,
    )
