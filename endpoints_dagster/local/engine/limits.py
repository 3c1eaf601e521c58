"""Per-query bounds and the engine's own guards, as ClickHouse settings on every caller's query.

Every endpoint query (runs and materializations alike) carries these settings, so a
runaway query stops at its limit inside ClickHouse rather than holding a worker:

- ``max_execution_time`` (PostHog's HogQL default is 60 s), ``max_memory_usage``,
  ``max_rows_to_read`` and ``max_threads`` (so one query cannot take every core);
- ``readonly = 1`` on runs (no writes, no settings changes, no table functions but
  ``numbers``); a materialization writes its table, so it runs without ``readonly`` and
  relies on the allowlist checks for the same guarantees (see ``clickhouse.py``).

A query stopped by a limit fails with ClickHouse's error code; :func:`classify` turns that
into PostHog's answer for it (:class:`LimitExceeded`).

>>> EngineLimits(max_execution_time=5).settings(readonly=True)[:40]
'readonly = 1, max_execution_time = 5, ti'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_MAX_EXECUTION_TIME = 60.0  # seconds: PostHog's HogQL default
DEFAULT_MAX_MEMORY_USAGE = 2 * 1024**3  # bytes per query
DEFAULT_MAX_ROWS_TO_READ = 200_000_000_000  # a backstop: the time limit binds first
DEFAULT_MAX_THREADS = 2


@dataclass(frozen=True)
class EngineLimits:
    """The bounds of one query. Values are validated by the command line (``cli.py``)."""

    max_execution_time: float = DEFAULT_MAX_EXECUTION_TIME
    max_memory_usage: int = DEFAULT_MAX_MEMORY_USAGE
    max_rows_to_read: int = DEFAULT_MAX_ROWS_TO_READ
    max_threads: int = DEFAULT_MAX_THREADS

    def settings(self, *, readonly: bool) -> str:
        """The SETTINGS text of a caller's query (numbers only: nothing here comes from a request)."""
        parts = ["readonly = 1"] if readonly else []
        parts += [
            f"max_execution_time = {float(self.max_execution_time):g}",
            "timeout_overflow_mode = 'throw'",
            f"max_memory_usage = {int(self.max_memory_usage)}",
            f"max_rows_to_read = {int(self.max_rows_to_read)}",
            "read_overflow_mode = 'throw'",
            f"max_threads = {int(self.max_threads)}",
        ]
        return ", ".join(parts)


# PostHog's answers (posthog/exceptions.py): a timeout is ClickHouseQueryTimeOut (504), memory is
# ClickHouseQueryMemoryLimitExceeded (513), too many rows or bytes is a 400 validation error.
TIMEOUT_DETAIL = (
    "Query has hit the max execution time before completing. See our docs for how to improve your query "
    "performance. You may need to materialize."
)
MEMORY_DETAIL = (
    "This query ran out of memory before it could finish, usually because it's scanning too much data. "
    "Try a shorter date range or narrower filters."
)


@dataclass(frozen=True)
class LimitExceeded:
    """How a query stopped by a limit is answered: HTTP status, error code and detail."""

    status: int
    code: str
    detail: str


_CODE_RE = re.compile(r"\((TIMEOUT_EXCEEDED|MEMORY_LIMIT_EXCEEDED|TOO_MANY_ROWS|TOO_MANY_BYTES)\)")


def classify(message: str) -> LimitExceeded | None:
    """The limit ``message`` (ClickHouse's error text) reports, or None for any other error."""
    match = _CODE_RE.search(message)
    if match is None:
        return None
    code = match.group(1)
    if code == "TIMEOUT_EXCEEDED":
        return LimitExceeded(504, "timeout", TIMEOUT_DETAIL)
    if code == "MEMORY_LIMIT_EXCEEDED":
        return LimitExceeded(513, "clickhouse_memory_limit_exceeded", MEMORY_DETAIL)
    return LimitExceeded(400, "too_many_rows", "The query reads more rows than this server allows per query.")
