"""Test knobs: added latency, fault injection and a per-key rate limit. All off by default.

* Latency: seconds added to every query execution (per endpoint overrides), spent in
  a cancellable wait that reports synthetic progress (see runner.py). A run that reads the
  endpoint's materialized table skips it: the latency stands for computing the query.
* Faults: a share of ``/api/`` requests answered 503 (``query_capacity``), 429
  (``throttled_error``) or a dropped connection, before the app sees them, so a client's
  retries meet them exactly as they would meet a flaky gateway.
* Clock offset: cache freshness is judged at ``now + clock_offset_seconds``, so a test
  can age cached results past ``cache_age_seconds`` without waiting.
* Rate limit: DRF-style sliding window per key: N requests per minute, then 429
  "Request was throttled. Expected available in N seconds." (no ``Retry-After``).
* Gateway timeout (current dialect): a synchronous run still computing after this many seconds
  is answered 504 with the gateway's HTML page, as PostHog's load balancer does at about 60 s;
  the query goes on (a cancel by its ``client_query_id`` stops it), as PostHog's does.
* List page size: the default page of paginated lists (current dialect); small values make
  a client follow several pages. Last execution granularity: how often an endpoint's last
  execution time may move (0 = every run; the current dialect starts at 1800 s).

Knobs change at runtime through ``POST /_local/knobs``; see :meth:`KnobsHolder.update`.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from endpoints_dagster.local import api_errors

FAULT_KINDS = ("503", "429", "drop")


@dataclass(frozen=True)
class Knobs:
    latency_seconds: float = 0.0
    latency_by_endpoint: dict[str, float] = field(default_factory=dict)
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    fault_paths: tuple[str, ...] = ()
    rate_limit_per_minute: int | None = None
    last_execution_granularity_seconds: float = 0.0
    # Added to "now" when judging cache freshness, so tests can age a cache without waiting.
    clock_offset_seconds: float = 0.0
    list_page_size: int = 100  # DRF's PAGE_SIZE in PostHog
    # PostHog's gateway cuts a synchronous request at about 60 s with an HTML 504; None: no gateway.
    gateway_timeout_seconds: float | None = None

    def latency_for(self, endpoint: str) -> float:
        return self.latency_by_endpoint.get(endpoint, self.latency_seconds)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fault_kinds"] = list(self.fault_kinds)
        data["fault_paths"] = list(self.fault_paths)
        return data


# Every knob has a range: a value outside it is a 400 that changes nothing.
MAX_LATENCY_SECONDS = 3600.0
MAX_GRANULARITY_SECONDS = 366 * 86400.0
MAX_CLOCK_OFFSET_SECONDS = 10 * 366 * 86400.0
MAX_RATE_LIMIT = 1_000_000
MAX_LIST_ENTRIES = 1000
MAX_TEXT = 200


def _number(name: str, value: Any, *, minimum: float = 0.0, maximum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number")
    if not math.isfinite(value) or value < minimum or value > maximum:
        raise ValueError(f"{name} must be between {minimum:g} and {maximum:g}")
    return float(value)


def _strings(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a list of strings")
    if len(value) > MAX_LIST_ENTRIES or any(len(v) > MAX_TEXT for v in value):
        raise ValueError(f"{name}: at most {MAX_LIST_ENTRIES} strings of at most {MAX_TEXT} characters")
    return tuple(value)


def parse_knobs(base: Knobs, changes: dict[str, Any]) -> Knobs:
    """A copy of ``base`` with ``changes`` applied; ValueError names the bad field."""
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "latency_seconds":
            out[name] = _number(name, value, maximum=MAX_LATENCY_SECONDS)
        elif name == "latency_by_endpoint":
            if not isinstance(value, dict) or len(value) > MAX_LIST_ENTRIES:
                raise ValueError(
                    "latency_by_endpoint must be an object {endpoint name: seconds} "
                    f"of at most {MAX_LIST_ENTRIES} names"
                )
            if any(len(str(k)) > MAX_TEXT for k in value):
                raise ValueError(f"latency_by_endpoint: names are at most {MAX_TEXT} characters")
            out[name] = {
                str(k): _number("latency_by_endpoint value", v, maximum=MAX_LATENCY_SECONDS)
                for k, v in value.items()
            }
        elif name == "fault_rate":
            out[name] = _number(name, value, maximum=1.0)
        elif name == "fault_kinds":
            kinds = _strings(name, value)
            bad = [k for k in kinds if k not in FAULT_KINDS]
            if bad or not kinds:
                raise ValueError(
                    f"fault_kinds must be a non-empty subset of {list(FAULT_KINDS)}, got {bad or kinds}"
                )
            out[name] = kinds
        elif name == "fault_paths":
            out[name] = _strings(name, value)
        elif name == "rate_limit_per_minute":
            out[name] = (
                None if value is None else int(_number(name, value, minimum=1, maximum=MAX_RATE_LIMIT))
            )
        elif name == "last_execution_granularity_seconds":
            out[name] = _number(name, value, maximum=MAX_GRANULARITY_SECONDS)
        elif name == "clock_offset_seconds":
            out[name] = _number(
                name, value, minimum=-MAX_CLOCK_OFFSET_SECONDS, maximum=MAX_CLOCK_OFFSET_SECONDS
            )
        elif name == "gateway_timeout_seconds":
            out[name] = None if value is None else _number(name, value, minimum=0.001, maximum=3600)
        elif name == "list_page_size":
            out[name] = int(_number(name, value, minimum=1, maximum=1000))
        else:
            shown = name if len(name) <= MAX_TEXT else name[:MAX_TEXT] + "..."
            raise ValueError(f"unknown knob {shown!r}; known: {sorted(Knobs.__dataclass_fields__)}")
    return replace(base, **out)


class KnobsHolder:
    """The current knobs (immutable snapshots swapped atomically) and the startup defaults."""

    def __init__(self, defaults: Knobs) -> None:
        self.defaults = defaults
        self._current = defaults
        self._lock = threading.Lock()

    @property
    def current(self) -> Knobs:
        return self._current

    def update(self, changes: dict[str, Any]) -> Knobs:
        with self._lock:
            self._current = parse_knobs(self._current, changes)
            return self._current

    def reset(self) -> Knobs:
        with self._lock:
            self._current = self.defaults
            return self._current


class RateLimiter:
    """Sliding one-minute window per key id, as DRF's ``SimpleRateThrottle``."""

    WINDOW = 60.0

    def __init__(self) -> None:
        self._history: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key_id: int, per_minute: int | None) -> None:
        if per_minute is None:
            return
        now = time.monotonic()
        with self._lock:
            history = self._history.setdefault(key_id, deque())
            while history and history[0] <= now - self.WINDOW:
                history.popleft()
            if len(history) >= per_minute:
                raise api_errors.throttled(history[0] + self.WINDOW - now)
            history.append(now)

    def reset(self) -> None:
        with self._lock:
            self._history.clear()


class FaultMiddleware:
    """Outermost ASGI layer: answers a share of ``/api/`` requests with a fault.

    It must wrap the app directly under uvicorn: a dropped connection needs uvicorn's own
    ``send`` (a bound method of its request cycle, which holds the socket transport).
    """

    def __init__(self, app: Any, knobs: KnobsHolder, seed: int = 0) -> None:
        self.app = app
        self.knobs = knobs
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def _pick(self, path: str) -> str | None:
        knobs = self.knobs.current
        if knobs.fault_rate <= 0 or not path.startswith("/api/"):
            return None
        if knobs.fault_paths and not any(p in path for p in knobs.fault_paths):
            return None
        with self._lock:
            if self._rng.random() >= knobs.fault_rate:
                return None
            return self._rng.choice(knobs.fault_kinds)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        kind = self._pick(scope.get("path", "")) if scope["type"] == "http" else None
        if kind is None:
            await self.app(scope, receive, send)
        elif kind == "drop":
            await drop_connection(send)
        else:
            error = api_errors.query_capacity() if kind == "503" else api_errors.throttled(1)
            await send_json(send, error.status, error.body())


async def send_json(send: Any, status: int, body: dict[str, Any]) -> None:
    import orjson

    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def drop_connection(send: Any) -> None:
    """Close the client's connection without an HTTP response."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None and hasattr(transport, "abort"):
        # abort() drops the socket at once and discards later writes, so uvicorn's
        # "no response was sent" 500 never reaches the client.
        transport.abort()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return
    # Another server: start a response and break it midway; the server closes the socket.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"1024")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"results": [', "more_body": True})
    raise ConnectionAbortedError("fault injection: dropped connection")
