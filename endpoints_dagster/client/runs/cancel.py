"""Stopping a query whose HTTP request is still open when the caller cancels the run.

A synchronous run (PostHog today answers every run synchronously; ``blocking`` does so on any
server) is one open request: the thread waiting on it cannot notice a ``cancel_event`` until
the answer arrives, maybe minutes later. When Dagster terminates a run, the step's main thread
sets the event; :func:`cancel_when_set` watches it beside the request and asks PostHog to stop
the query (``DELETE query/{client_query_id}/``), which also ends the open request at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["cancel_when_set"]

WATCH_INTERVAL = 0.1  # seconds between looks at "is the run over?" while the event is unset


@contextmanager
def cancel_when_set(cancel_event: threading.Event | None, cancel: Callable[[], None]) -> Iterator[None]:
    """Call ``cancel()`` (once, from a helper thread) if ``cancel_event`` is set before the block ends."""
    if cancel_event is None:
        yield
        return
    over = threading.Event()

    def watch() -> None:
        while not over.is_set():
            if cancel_event.wait(WATCH_INTERVAL):
                if not over.is_set():
                    cancel()
                return

    thread = threading.Thread(target=watch, name="posthog-cancel-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        over.set()
