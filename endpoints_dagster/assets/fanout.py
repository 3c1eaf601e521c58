"""Run several endpoints at once, report their progress, and cancel them all on interruption.

The endpoints selected in one step run in a bounded thread pool (the work is waiting on
PostHog, not CPU). Only the calling thread talks to Dagster: workers push progress lines into a
queue that the caller drains, so nothing depends on Dagster's loggers being thread-safe. If the
calling thread is interrupted (the run was terminated or timed out), every worker is told to
cancel, and the caller waits until each has sent its `DELETE query/{id}/` before re-raising.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Generic, Optional, TypeVar

from endpoints_dagster.client.models import QueryStatus

JobT = TypeVar("JobT")

#: How long the caller waits for workers to cancel their queries after an interruption.
CANCEL_GRACE_SECONDS = 15.0


@dataclass
class Outcome(Generic[JobT]):
    """What one job came back with: a result, or the exception that ended it."""

    job: JobT
    result: Any = None
    error: Optional[BaseException] = None


class ProgressThrottle:
    """Turns frequent `query_progress` updates into a log line every `every_seconds` at most."""

    def __init__(
        self,
        label: str,
        emit: Callable[[str], None],
        every_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._label = label
        self._emit = emit
        self._every = every_seconds
        self._clock = clock
        self._last = float("-inf")

    def __call__(self, status: QueryStatus) -> None:
        now = self._clock()
        progress = status.query_progress
        if progress is None or now - self._last < self._every:
            return
        self._last = now
        self._emit(f"{self._label}: {describe_progress(progress)}")


def describe_progress(progress: Any) -> str:
    """`1,204,000 / 4,000,000 rows read (30%), 2.0 s elapsed` from a `QueryProgress`."""
    read = progress.rows_read or 0
    total = progress.estimated_rows_total or 0
    text = f"{read:,} / {total:,} rows read ({read * 100 // total}%)" if total else f"{read:,} rows read"
    if progress.time_elapsed is not None:
        text += f", {progress.time_elapsed:.1f} s elapsed"
    return text


class _ActiveCount:
    """How many workers are inside their job; `with` marks one in, and waiters see it leave."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def __enter__(self) -> None:
        with self._changed:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._changed:
            self._count -= 1
            self._changed.notify_all()

    def wait_for_zero(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout=timeout)


def run_concurrently(
    jobs: Sequence[JobT],
    work: Callable[[JobT, threading.Event, Callable[[str], None]], Any],
    *,
    max_concurrency: int,
    log: Callable[[str], None],
    tick_seconds: float = 0.25,
) -> Iterator[Outcome[JobT]]:
    """Run `work(job, cancel_event, log_line)` for every job, yielding outcomes as they finish.

    `log_line` may be called from worker threads; the lines reach `log` on the calling thread.
    """
    if not jobs:
        return
    cancel = threading.Event()
    lines: queue.SimpleQueue[str] = queue.SimpleQueue()

    def drain() -> None:
        while True:
            try:
                log(lines.get_nowait())
            except queue.Empty:
                return

    # Counted by the workers themselves, so an interrupt that lands while jobs are still being
    # submitted cannot leave a started worker unaccounted for.
    active = _ActiveCount()

    def guarded(job: JobT) -> Any:
        with active:
            if cancel.is_set():
                raise CancelledError(f"not started: the step was interrupted before {job!r} ran")
            return work(job, cancel, lines.put)

    pool = ThreadPoolExecutor(
        max_workers=max(1, min(max_concurrency, len(jobs))), thread_name_prefix="posthog"
    )
    try:
        futures: dict[Future, JobT] = {}
        for job in jobs:
            futures[pool.submit(guarded, job)] = job
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=tick_seconds, return_when=FIRST_COMPLETED)
            drain()
            for future in done:
                error = future.exception()
                yield Outcome(futures[future], None if error else future.result(), error)
    except BaseException:
        # Terminated, timed out or the consumer stopped: cancel every query still running and
        # wait for the cancellations to reach PostHog before the step exits.
        cancel.set()
        active.wait_for_zero(CANCEL_GRACE_SECONDS)
        drain()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
