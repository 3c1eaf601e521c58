"""Fair sharing of the query workers between projects.

One ``ThreadPoolExecutor`` runs every query, but no project may hold more than
``running_cap`` of its workers: a project's further queries wait in that project's own
line, so another project's query still finds a free worker at once. A project with
``admission_cap`` queries queued or running gets :class:`ProjectBusy` for the next one,
which the API answers with PostHog's 429.

>>> slots = ProjectSlots(ThreadPoolExecutor(4), running_cap=2, admission_cap=8)  # doctest: +SKIP
>>> slots.reserve(1)                       # ProjectBusy when project 1 is at its cap  # doctest: +SKIP
>>> future = slots.submit(1, work)        # a Future, done when ``work()`` has returned  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class ProjectBusy(Exception):
    """The project already has as many queries queued or running as it may."""


class ProjectSlots:
    """Per-project admission and running caps in front of a shared worker pool."""

    def __init__(self, pool: ThreadPoolExecutor, *, running_cap: int, admission_cap: int) -> None:
        self._pool = pool
        self.running_cap = max(1, running_cap)
        self.admission_cap = max(self.running_cap, admission_cap)
        self._lock = threading.Lock()
        self._admitted: dict[int, int] = defaultdict(int)  # queued + running
        self._running: dict[int, int] = defaultdict(int)  # handed to the pool
        self._waiting: dict[int, deque[tuple[Future, Callable[[], None]]]] = defaultdict(deque)

    def reserve(self, project_id: int) -> None:
        """Admit one more query of ``project_id`` or raise ProjectBusy; ``submit`` it next."""
        with self._lock:
            if self._admitted[project_id] >= self.admission_cap:
                raise ProjectBusy(project_id)
            self._admitted[project_id] += 1

    def submit(self, project_id: int, work: Callable[[], None]) -> Future:
        """Run reserved ``work`` when the project has a free slot; cancellable until it starts."""
        future: Future = Future()
        with self._lock:
            self._waiting[project_id].append((future, work))
            self._dispatch_locked(project_id)
        return future

    def _dispatch_locked(self, project_id: int) -> None:
        line = self._waiting[project_id]
        while line and self._running[project_id] < self.running_cap:
            future, work = line.popleft()
            if future.cancelled():  # cancelled while waiting: it never takes a worker
                self._admitted[project_id] -= 1
                continue
            self._running[project_id] += 1
            self._pool.submit(self._run, project_id, future, work)

    def _run(self, project_id: int, future: Future, work: Callable[[], None]) -> None:
        try:
            if future.set_running_or_notify_cancel():
                try:
                    work()
                finally:
                    future.set_result(None)
        finally:
            with self._lock:
                self._running[project_id] -= 1
                self._admitted[project_id] -= 1
                self._dispatch_locked(project_id)

    def release_cancelled(self, project_id: int) -> None:
        """Give back the admissions of the project's queries cancelled while waiting in line."""
        with self._lock:
            line = self._waiting[project_id]
            kept = deque(item for item in line if not item[0].cancelled())
            self._admitted[project_id] -= len(line) - len(kept)
            self._waiting[project_id] = kept

    def cancel_waiting(self) -> list[Future]:
        """Cancel every query not yet started (at shutdown); returns their futures."""
        with self._lock:
            cancelled = []
            for project_id, line in self._waiting.items():
                while line:
                    future, _ = line.popleft()
                    self._admitted[project_id] -= 1
                    if future.cancel():
                        cancelled.append(future)
            return cancelled
