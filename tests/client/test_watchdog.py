"""The watchdog ends a blocked body read at the deadline, and never touches a disarmed one.

Real sockets (``socket.socketpair``); nothing waits on a timer except for a cut the test expects.
"""

from __future__ import annotations

import socket
import threading

import httpx

from endpoints_dagster.client import watchdog


class _Reader:
    """Blocks in ``recv`` on one end of a socket pair in a thread, like a stalled body read."""

    def __init__(self) -> None:
        self.ours, self.theirs = socket.socketpair()
        self.got: list[bytes] = []
        self.thread = threading.Thread(target=lambda: self.got.append(self.ours.recv(10)), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.theirs.close()  # a read still blocked sees the peer go away and returns
        self.thread.join(timeout=30)
        self.ours.close()


def _armed(reader: _Reader, seconds: float) -> watchdog.Armed:
    return watchdog._WATCHDOG.arm(seconds, reader.ours)


def test_a_blocked_read_ends_when_its_time_is_up():
    reader = _Reader()
    try:
        _armed(reader, 0.05)
        reader.thread.join(timeout=30)
        assert not reader.thread.is_alive() and reader.got == [b""]  # the connection ended under it
    finally:
        reader.close()


def test_a_disarmed_read_is_left_alone_while_later_ones_are_cut():
    kept, cut = _Reader(), _Reader()
    try:
        _armed(kept, 0.01).disarm()
        _armed(cut, 0.05)  # due after the disarmed one: once it is cut, the first was passed over
        cut.thread.join(timeout=30)
        assert cut.got == [b""]
        kept.theirs.sendall(b"still here")
        kept.thread.join(timeout=30)
        assert kept.got == [b"still here"]
    finally:
        kept.close()
        cut.close()


def test_disarming_twice_or_after_the_cut_is_harmless():
    reader = _Reader()
    try:
        armed = _armed(reader, 0.0)
        reader.thread.join(timeout=30)
        armed.disarm()
        armed.disarm()
        assert reader.got == [b""]
    finally:
        reader.close()


def test_disarmed_cuts_do_not_pile_up():
    reader = _Reader()
    try:
        for _ in range(1_000):
            _armed(reader, 3_600).disarm()
        assert len(watchdog._WATCHDOG._heap) <= 200
    finally:
        reader.close()


def test_a_response_without_a_socket_is_not_armed():
    armed = watchdog.cut_at(httpx.Response(200, content=b"{}"), 0.0)
    assert armed is watchdog._NOT_ARMED
    armed.disarm()
