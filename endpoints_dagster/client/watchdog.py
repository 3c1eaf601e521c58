"""Ending body reads at a call's deadline, whatever the server does.

httpx fixes a body's read timeout when the body starts. A body that trickles until just before a
call's deadline and then stalls would hold the call for that whole timeout once more (about twice
the deadline). :func:`cut_at` arms one shared daemon thread to shut the socket down when the time
is up: the blocked read then ends at once, as a connection error past the deadline, which the
caller reports as the timeout. Disarming (the body was read in time) is a lock and a flag, so every
request can afford it; one thread serves every client in the process.

Example::

    armed = cut_at(response, seconds=deadline - clock())
    try:
        response.read()
    finally:
        armed.disarm()
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time

import httpx

__all__ = ["Armed", "cut_at"]


class Armed:
    """One armed cut; :meth:`disarm` it once the body is read."""

    __slots__ = ("_sock", "seq", "when")

    def __init__(self, when: float, seq: int, sock: socket.socket | None) -> None:
        self.when, self.seq, self._sock = when, seq, sock

    def __lt__(self, other: Armed) -> bool:
        return (self.when, self.seq) < (other.when, other.seq)

    def disarm(self) -> None:
        """No cut for this read any more (a no-op if it already happened)."""
        if self._sock is not None:
            _WATCHDOG.disarm(self)


class _Watchdog:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Empty, with no thread (at start, and in a forked child)."""
        self._due = threading.Condition()
        self._heap: list[Armed] = []
        self._disarmed = 0
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, sock: socket.socket) -> Armed:
        armed = Armed(time.monotonic() + max(0.0, seconds), next(self._seq), sock)
        with self._due:
            heapq.heappush(self._heap, armed)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="endpoints-dagster-deadlines", daemon=True
                )
                self._thread.start()
            if self._heap[0] is armed:
                self._due.notify()
        return armed

    def disarm(self, armed: Armed) -> None:
        with self._due:
            if armed._sock is None:
                return
            armed._sock = None
            self._disarmed += 1
            if self._disarmed > 64 and self._disarmed * 2 > len(self._heap):  # keep the heap to live cuts
                self._heap = [a for a in self._heap if a._sock is not None]
                heapq.heapify(self._heap)
                self._disarmed = 0

    def _run(self) -> None:
        with self._due:
            while True:
                while self._heap and self._heap[0]._sock is None:
                    heapq.heappop(self._heap)
                    self._disarmed = max(0, self._disarmed - 1)
                if not self._heap:
                    self._due.wait()
                    continue
                wait = self._heap[0].when - time.monotonic()
                if wait > 0:
                    self._due.wait(wait)
                    continue
                armed = heapq.heappop(self._heap)
                sock, armed._sock = armed._sock, None
                if sock is not None:
                    with contextlib.suppress(OSError):  # already closed: nothing to cut
                        # The plain socket's shutdown, also under TLS: the SSL object stays with
                        # the reading thread, which then sees the connection end.
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()
_NOT_ARMED = Armed(0.0, -1, None)
# A forked child has no watchdog thread, and its lock may have been held at the fork: start afresh.
os.register_at_fork(after_in_child=_WATCHDOG.reset)


def cut_at(response: httpx.Response, seconds: float) -> Armed:
    """Shut ``response``'s connection down in ``seconds`` unless disarmed first.

    A response without a socket (a mock transport) is not armed; :meth:`Armed.disarm` is then a
    no-op.
    """
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if not isinstance(sock, socket.socket):
        return _NOT_ARMED
    return _WATCHDOG.arm(seconds, sock)
