"""ProjectSlots: a project holds at most its running cap of the workers, the rest wait in its own
line; past the admission cap it gets ProjectBusy; a cancelled waiting query gives its place back."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from endpoints_dagster.local.services.project_slots import ProjectBusy, ProjectSlots


def test_caps_and_fairness() -> None:
    pool = ThreadPoolExecutor(4)
    slots = ProjectSlots(pool, running_cap=2, admission_cap=3)
    gate = threading.Event()
    started: list[int] = []
    lock = threading.Lock()

    def work(project: int):
        def run() -> None:
            with lock:
                started.append(project)
            gate.wait(10)

        return run

    futures = []
    for _ in range(3):
        slots.reserve(1)
        futures.append(slots.submit(1, work(1)))
    with pytest.raises(ProjectBusy):
        slots.reserve(1)
    slots.reserve(2)
    other = slots.submit(2, work(2))
    for _ in range(200):  # bounded poll: project 2 starts although project 1 has a query waiting
        with lock:
            if started.count(2) == 1 and started.count(1) == 2:
                break
        threading.Event().wait(0.01)
    assert started.count(1) == 2 and started.count(2) == 1
    assert futures[2].cancel()  # the waiting one
    slots.release_cancelled(1)
    slots.reserve(1)  # its place is free again
    slots.submit(1, work(1))
    gate.set()
    for f in [*futures[:2], other]:
        f.result(10)
    pool.shutdown(wait=True)
