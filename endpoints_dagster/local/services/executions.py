"""Query executions: a bounded worker pool and PostHog-style query statuses.

Every computation (sync or async) runs in one ``ThreadPoolExecutor`` (default 8
workers), so the pool size bounds how many queries the engine runs at once and a full
pool queues work as a busy ClickHouse would. One project holds at most half of the
workers (``project_slots.py``), so another project's query never waits behind it.
Each execution is a :class:`QueryTask` keyed by ``(project_id, client_query_id)``;
``GET/DELETE /query/{id}/`` read and cancel it. Every execution is logged in SQLite
(queued -> running -> completed | failed | cancelled) and in the resettable stats.

``client_query_id`` is an idempotency key, as in PostHog's ``enqueue_process_query_task``
("if we've seen this query before, return and don't resubmit it"): a request reusing the
id of a queued, running or completed task gets that task back instead of a second
execution. A failed or cancelled task may be retried under the same id.

The latency knob is spent here, before the engine runs, in a wait that a cancel ends at
once (no CPU is used while it elapses) and that reports synthetic progress.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from endpoints_dagster.local import timefmt
from endpoints_dagster.local.server.faults import KnobsHolder
from endpoints_dagster.local.server.stats import Stats
from endpoints_dagster.local.services.project_slots import ProjectSlots
from endpoints_dagster.local.storage.store import Store

log = logging.getLogger("endpoints_local.runner")

STATUS_TTL_SECONDS = 600  # PostHog keeps a query status in Redis for 10 minutes
CANCELLED_MESSAGE = "Query cancelled"
LATENCY_STEP = 0.05


class QueryFailed(Exception):
    """The engine refused or failed the query; ``message`` is shown to the user.

    ``status`` and ``code`` are set when PostHog answers this failure with its own status (a
    query stopped at its time limit is a 504, at its memory limit a 513); else it is a 400.
    """

    def __init__(
        self, message: str, attr: str | None = None, *, status: int = 400, code: str = "query_error"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.attr = attr
        self.status = status
        self.code = code


class QueryCancelled(Exception):
    """The query was cancelled (DELETE /query/{id}/ or shutdown)."""


ProgressFn = Callable[[dict[str, Any]], None]
ComputeFn = Callable[[threading.Event, ProgressFn], dict[str, Any]]


@dataclass
class ExecutionSpec:
    """What to run: ``compute(cancel_event, report_progress)`` returns the RunResult JSON."""

    project_id: int
    endpoint_id: str
    endpoint: str
    version: int
    client_query_id: str
    materialized: bool
    query_async: bool
    api_key_id: int | None
    compute: ComputeFn
    via_api_key: bool = True


@dataclass
class QueryTask:
    spec: ExecutionSpec
    task_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: str = "queued"  # queued | running | completed | failed | cancelled
    start_time: float = field(default_factory=timefmt.now)
    pickup_time: float | None = None
    end_time: float | None = None
    error_message: str | None = None
    error_attr: str | None = None
    error_status: int = 400
    error_code: str = "query_error"
    result: dict[str, Any] | None = None
    progress: dict[str, Any] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    future: Future | None = None
    execution_id: int = 0
    stats_record: dict[str, Any] = field(default_factory=dict)
    initial_status: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.spec.client_query_id

    @property
    def finished(self) -> bool:
        return self.state in ("completed", "failed", "cancelled")

    @property
    def reusable(self) -> bool:
        """A request with this task's id gets this task back (else it may run again)."""
        return self.state in ("queued", "running", "completed")

    def status_json(self, *, show_progress: bool = False) -> dict[str, Any]:
        """PostHog's ``QueryStatus``; ``results`` holds the whole RunResult once complete."""
        complete = self.state == "completed"
        progress = None
        if show_progress and not self.finished:
            progress = dict(self.progress or _progress(0, 0, 0, 0.0, 0))
        return {
            "id": self.id,
            "team_id": self.spec.project_id,
            "query_async": self.spec.query_async,
            "complete": complete,
            "error": self.state in ("failed", "cancelled"),
            "error_message": self.error_message,
            "results": self.result if complete else None,
            "start_time": timefmt.iso_z(self.start_time),
            "pickup_time": timefmt.iso_z(self.pickup_time),
            "end_time": timefmt.iso_z(self.end_time),
            "expiration_time": timefmt.iso_z(self.end_time + STATUS_TTL_SECONDS) if self.end_time else None,
            "task_id": self.task_id,
            "query_progress": progress,
            "dashboard_id": None,
            "insight_id": None,
            "labels": None,
        }


def _progress(rows: int, nbytes: int, total: int, elapsed: float, cpu_us: int) -> dict[str, Any]:
    # PostHog's ClickhouseQueryProgress carries integers only.
    return {
        "rows_read": int(rows),
        "bytes_read": int(nbytes),
        "estimated_rows_total": int(total),
        "time_elapsed": int(elapsed),
        "active_cpu_time": int(cpu_us),
    }


def progress_from_engine(p: Any) -> dict[str, Any]:
    return _progress(p.rows_read, p.bytes_read, p.estimated_rows_total, p.time_elapsed, p.active_cpu_time)


class Runner:
    """The worker pool plus the registry of query tasks."""

    def __init__(
        self,
        store: Store,
        stats: Stats,
        knobs: KnobsHolder,
        *,
        workers: int = 8,
        estimated_rows: int = 0,
        running_per_project: int | None = None,
        admitted_per_project: int = 16,
    ) -> None:
        self._store = store
        self._stats = stats
        self._knobs = knobs
        self._estimated_rows = estimated_rows
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="query")
        # A project may use at most half the workers, so another project's query starts at once.
        running = running_per_project if running_per_project is not None else max(1, workers // 2)
        self._slots = ProjectSlots(self._pool, running_cap=running, admission_cap=admitted_per_project)
        self._tasks: dict[tuple[int, str], QueryTask] = {}
        self._lock = threading.Lock()
        self._submissions = 0
        self.workers = workers

    # -- registry ----------------------------------------------------------------------------
    def find(self, project_id: int, query_id: str) -> QueryTask | None:
        with self._lock:
            return self._tasks.get((project_id, query_id))

    def get_or_submit(self, spec: ExecutionSpec) -> tuple[QueryTask, bool]:
        """The live task under ``spec.client_query_id`` (created=False), or a new one."""
        key = (spec.project_id, spec.client_query_id)
        with self._lock:
            existing = self._tasks.get(key)
            if existing is not None and existing.reusable:
                return existing, False
            self._slots.reserve(spec.project_id)  # ProjectBusy: the API's 429
            task = QueryTask(spec=spec)
            self._tasks[key] = task
            self._submissions += 1
            if self._submissions % 100 == 0:
                self._prune_locked()
        task.execution_id = self._store.insert_execution(
            project_id=spec.project_id,
            endpoint_id=spec.endpoint_id,
            endpoint=spec.endpoint,
            client_query_id=spec.client_query_id,
            version=spec.version,
            materialized=spec.materialized,
            query_async=spec.query_async,
            api_key_id=spec.api_key_id,
            via_api_key=spec.via_api_key,
            submitted_at=task.start_time,
        )
        task.stats_record = self._stats.add_execution(
            {
                "project_id": spec.project_id,
                "endpoint": spec.endpoint,
                "client_query_id": spec.client_query_id,
                "version": spec.version,
                "materialized": spec.materialized,
                "query_async": spec.query_async,
                "submitted_at": timefmt.iso(task.start_time),
                "started_at": None,
                "finished_at": None,
                "status": "queued",
            }
        )
        # The status as enqueued (PostHog answers this one): deterministic, whatever the pool does next.
        task.initial_status = task.status_json()
        task.future = self._slots.submit(spec.project_id, lambda: self._work(task))
        return task, True

    def _prune_locked(self) -> None:
        horizon = timefmt.now() - STATUS_TTL_SECONDS
        for key in [k for k, t in self._tasks.items() if t.finished and (t.end_time or 0) < horizon]:
            del self._tasks[key]

    def cancel(self, project_id: int, query_id: str) -> str:
        """Cancel a queued or running task; PostHog's messages."""
        task = self.find(project_id, query_id)
        if task is None:
            # PostHog still tries to kill the query on the cluster and answers 200.
            return "Query task revoked"
        if task.state == "completed":
            return "Query already complete"
        task.cancel.set()
        if task.future is not None and task.future.cancel():
            # Still queued: it will never start, so it is cancelled now rather than at pickup.
            self._slots.release_cancelled(project_id)
            self._finish(task, "cancelled", CANCELLED_MESSAGE)
        return "Query task revoked"

    def cancel_all(self) -> None:
        with self._lock:
            tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel.set()

    async def wait(self, task: QueryTask, timeout: float | None = None) -> bool:
        """Wait for the task (at most ``timeout`` seconds); whether it finished. The task goes on."""
        assert task.future is not None
        # asyncio.wait: a future cancelled while queued must not cancel the waiting request.
        done, _ = await asyncio.wait({asyncio.wrap_future(task.future)}, timeout=timeout)
        return bool(done)

    def shutdown(self) -> None:
        self.cancel_all()
        self._slots.cancel_waiting()
        self._pool.shutdown(wait=True, cancel_futures=False)

    # -- the work ----------------------------------------------------------------------------
    def _work(self, task: QueryTask) -> None:
        spec = task.spec
        if task.cancel.is_set():
            self._finish(task, "cancelled", CANCELLED_MESSAGE)
            return
        task.pickup_time = timefmt.now()
        task.state = "running"
        self._store.execution_started(task.execution_id, task.pickup_time)
        self._stats.update(task.stats_record, status="running", started_at=timefmt.iso(task.pickup_time))
        if spec.via_api_key:
            # PostHog's last execution time is the query's start in query_log.
            granularity = self._knobs.current.last_execution_granularity_seconds
            self._store.touch_last_executed(spec.endpoint_id, task.pickup_time, granularity)
        self._stats.running(+1)
        try:
            latency = self._knobs.current.latency_for(spec.endpoint)
            if latency > 0 and not spec.materialized:  # the knob is computing cost; a table read has none
                self._spend_latency(task, latency)
            result = spec.compute(task.cancel, lambda p: setattr(task, "progress", p))
            task.result = result
            self._finish(task, "completed", None)
        except QueryCancelled:
            self._finish(task, "cancelled", CANCELLED_MESSAGE)
        except QueryFailed as exc:
            task.error_attr = exc.attr
            task.error_status, task.error_code = exc.status, exc.code
            self._finish(task, "failed", exc.message)
        except Exception as exc:  # a bug: logged, and the status says error without details (as PostHog)
            log.exception("query %s for endpoint %r failed unexpectedly", spec.client_query_id, spec.endpoint)
            self._finish(task, "failed", None, log_error=f"{type(exc).__name__}: {exc}")
        finally:
            self._stats.running(-1)

    def _spend_latency(self, task: QueryTask, latency: float) -> None:
        started = time.monotonic()
        total = self._estimated_rows
        while True:
            elapsed = time.monotonic() - started
            if elapsed >= latency:
                return
            share = elapsed / latency
            rows = int(total * share)
            task.progress = _progress(rows, rows * 180, total, elapsed, 0)
            if task.cancel.wait(min(LATENCY_STEP, latency - elapsed)):
                raise QueryCancelled()

    def _finish(self, task: QueryTask, state: str, message: str | None, log_error: str | None = None) -> None:
        task.end_time = timefmt.now()
        task.error_message = message
        task.state = state
        self._store.execution_finished(task.execution_id, task.end_time, state, message or log_error)
        self._stats.update(task.stats_record, status=state, finished_at=timefmt.iso(task.end_time))
