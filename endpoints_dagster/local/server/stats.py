"""In-memory counters for tests and benchmarks (``GET /_local/stats``).

``requests`` counts every HTTP request by ``"METHOD /route/template/"`` (faulted ones
included: the client's retries are what tests count). ``executions`` lists each query
the engine was asked to run since the last reset (cache hits are not executions), and
``max_concurrent_executions`` is the high-water mark of queries running at once, and
``run_body_fields`` counts the top-level fields of run bodies (refused ones included), so a
test can prove what a client sent without recording whole bodies.
The durable execution log lives in SQLite (store.py); this is the resettable view.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._run_fields: Counter[str] = Counter()
        self._executions: list[dict[str, Any]] = []
        self._running = 0
        self._max_running = 0

    def count_request(self, route: str) -> None:
        with self._lock:
            self._requests[route] += 1

    def count_run_fields(self, fields: Any) -> None:
        with self._lock:
            self._run_fields.update(str(f) for f in fields)

    def add_execution(self, record: dict[str, Any]) -> dict[str, Any]:
        """Register an execution record; the caller updates it through :meth:`update`."""
        with self._lock:
            self._executions.append(record)
        return record

    def update(self, record: dict[str, Any], **fields: Any) -> None:
        with self._lock:
            record.update(fields)

    def running(self, delta: int) -> None:
        with self._lock:
            self._running += delta
            self._max_running = max(self._max_running, self._running)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self._requests),
                "run_body_fields": dict(self._run_fields),
                "executions": [dict(e) for e in self._executions],
                "max_concurrent_executions": self._max_running,
                "running_executions": self._running,
            }

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._run_fields.clear()
            self._executions.clear()
            self._max_running = self._running
