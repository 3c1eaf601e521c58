"""Time helpers: one clock, and the two ISO 8601 spellings PostHog uses.

PostHog renders datetimes two ways: DRF's JSON encoder turns ``+00:00`` into ``Z``
(endpoint ``created_at``, ``last_refresh``), while values built with ``.isoformat()``
keep ``+00:00`` (version ``created_at``, ``_version_created_at``, last execution
times). The local server copies both so that clients learn to read both.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone


def now() -> float:
    """Seconds since the epoch (wall clock: stored, compared with stored values)."""
    return time.time()


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def iso(ts: float | None) -> str | None:
    """``2026-01-01T08:00:00.123456+00:00`` (PostHog's ``.isoformat()`` values)."""
    if ts is None:
        return None
    return to_datetime(ts).isoformat(timespec="microseconds")


def iso_z(ts: float | None) -> str | None:
    """``2026-01-01T08:00:00.123456Z`` (DRF-rendered datetimes)."""
    if ts is None:
        return None
    return to_datetime(ts).isoformat(timespec="microseconds").replace("+00:00", "Z")
