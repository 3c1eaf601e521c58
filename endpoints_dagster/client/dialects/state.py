"""One client's API dialect: fixed, or learned from the server's own answers (``api_dialect="auto"``).

See :mod:`endpoints_dagster.client.dialects` for what differs and why ``auto`` starts documented. Evidence
comes only from answers the client asked for anyway; nothing here sends a request. What ``auto``
learns is also remembered process-wide per (host, project id), so the next client of the same
process starts from it (Dagster makes one client per asset step and sensor tick);
:func:`forget_learned_dialects` clears that memory.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from endpoints_dagster.client.dialects.base import (
    API_DIALECTS,
    ASYNC_REFRESH_MODES,
    CURRENT_REFRESH_MODES,
    Dialect,
)
from endpoints_dagster.client.dialects.registry import CURRENT, DIALECTS, DOCUMENTED
from endpoints_dagster.client.errors import PostHogEndpointsError
from endpoints_dagster.client.runs.args import RunArgs

__all__ = [
    "DialectState",
    "evidence_of_endpoint",
    "evidence_of_list",
    "evidence_of_run",
    "evidence_of_versions",
    "forget_learned_dialects",
    "is_dialect_refusal",
]


# -- evidence: which dialect an answer was written in ----------------------------------------------


def evidence_of_endpoint(item: Any) -> str | None:
    """``"current"``/``"documented"`` from the cache setting an endpoint carries, else ``None``."""
    if not isinstance(item, dict):
        return None
    fresh, age = "data_freshness_seconds" in item, "cache_age_seconds" in item
    return "current" if fresh and not age else "documented" if age and not fresh else None


def evidence_of_list(body: Any) -> str | None:
    """From a list of endpoints: its items' fields first (a documented server may paginate too),
    then the paginated ``{count, next, previous, results}`` shape."""
    items = body.get("results") if isinstance(body, dict) else body
    for item in items if isinstance(items, list) else []:
        found = evidence_of_endpoint(item)
        if found:
            return found
    return "current" if isinstance(body, dict) and "count" in body and "next" in body else None


def evidence_of_versions(body: Any) -> str | None:
    """Documented versions are a plain array; current ones an object (paginated)."""
    return "documented" if isinstance(body, list) else "current" if isinstance(body, dict) else None


def evidence_of_run(data: Any) -> str | None:
    """From the version key of a run result."""
    if not isinstance(data, dict):
        return None
    return "current" if "endpoint_version" in data else "documented" if "_version" in data else None


# A 400 that refuses the documented body itself, not a value in it. PostHog today validates run
# bodies with extra="forbid" and answers the first field error in the exceptions-hog shape.
_REFUSAL = re.compile(
    r"extra (inputs|fields) (are )?not permitted|unknown field|unexpected (field|keyword)|unrecognized field"
    r"|only sync modes are supported|input should be 'cache'",
    re.IGNORECASE,
)
# Only fields whose name in a documented server's error always comes with "Unknown variable".
_DOCUMENTED_ONLY = ("variables_values", "variables_override")


# A documented server refusing a current-shaped run: it lists its own refresh modes.
_DOCUMENTED_REFUSAL = re.compile(r"\bblocking\b", re.IGNORECASE)

# What ``auto`` learnt, per (host, project id), for every client of this process.
_LEARNT: dict[tuple[str, Any], str] = {}
_LEARNT_LOCK = threading.Lock()


def forget_learned_dialects() -> None:
    """Forget every dialect ``auto`` clients of this process learnt (new clients start documented)."""
    with _LEARNT_LOCK:
        _LEARNT.clear()


def is_dialect_refusal(error: PostHogEndpointsError) -> bool:
    """Whether a 400 says the server does not speak the documented dialect."""
    if error.status_code != 400:
        return False
    detail = error.detail or ""
    if re.search(r"unknown variable|undefined variable", detail, re.IGNORECASE):
        return False  # a documented server naming a variable it does not know
    if _REFUSAL.search(detail):
        return True
    return any(field in detail for field in _DOCUMENTED_ONLY)


class DialectState:
    """One client's dialect: fixed (``documented``/``current``) or learned (``auto``). Thread-safe."""

    def __init__(self, mode: str, *, host: str, logger: logging.Logger, project_id: Any = None) -> None:
        if mode not in API_DIALECTS:
            raise ValueError(
                f"api_dialect must be one of {', '.join(API_DIALECTS)}, got {mode!r}: 'documented' for the "
                "reference API (and the local server), 'current' for PostHog as deployed today, 'auto' to detect."
            )
        self.mode = mode
        self.host = host
        self._logger = logger
        self._active: Dialect = CURRENT if mode == "current" else DOCUMENTED
        self._known = mode != "auto"
        self._lock = threading.Lock()
        self._warned_sync = False
        self._memory_key = (host, project_id)
        self._from_memory = False  # True while the active dialect is only what another client learnt
        if mode == "auto":
            with _LEARNT_LOCK:
                learnt = _LEARNT.get(self._memory_key)
            if learnt is not None:
                self._active, self._known, self._from_memory = DIALECTS[learnt], True, True

    @property
    def active(self) -> Dialect:
        """The dialect the next request is built in."""
        return self._active

    @property
    def known(self) -> bool:
        """False while ``auto`` is still assuming the documented dialect without evidence."""
        return self._known

    def observe(self, evidence: str | None, why: str) -> None:
        """Remember what an answer showed (``auto`` only; fixed modes trust their setting)."""
        if self.mode != "auto" or evidence is None:
            return
        found = DIALECTS[evidence]
        with self._lock:
            changed = found is not self._active
            self._active, self._known, self._from_memory = found, True, False
        with _LEARNT_LOCK:
            _LEARNT[self._memory_key] = evidence
        if changed:
            self._logger.info(
                "PostHog at %s speaks the %s endpoints API (%s); using it from now on",
                self.host,
                evidence,
                why,
            )

    def observe_run(self, endpoint: str, data: Any) -> None:
        """Remember the dialect a run result was written in."""
        self.observe(evidence_of_run(data), f"a run of endpoint {endpoint!r} answered in it")

    def for_run(self, refresh: str) -> Dialect:
        """The dialect to build a run in: the current one's refresh names imply it until told otherwise."""
        if self.mode == "auto" and not self._known and refresh in CURRENT_REFRESH_MODES:
            return CURRENT
        return self._active

    def may_switch(self, used: Dialect, error: PostHogEndpointsError) -> bool:
        """Whether a refused request should be resent once in the other dialect: a documented one
        refused as a dialect, or a current one the server refuses in documented words while that
        dialect was only a guess (a current refresh name before any evidence) or another client's
        memory (the server at that address changed)."""
        if self.mode != "auto":
            return False
        if used is DOCUMENTED:
            return is_dialect_refusal(error)
        guessed = self._from_memory or not self._known
        return (
            used is CURRENT
            and guessed
            and error.status_code == 400
            and bool(_DOCUMENTED_REFUSAL.search(error.detail or ""))
        )

    def switch_after_refusal(self, error: PostHogEndpointsError) -> Dialect:
        """Switch to the other dialect after :meth:`may_switch`; returns it. The direction comes from
        the refusal itself, not from the active dialect another thread may have changed meanwhile."""
        to, refused = ("current", "documented") if is_dialect_refusal(error) else ("documented", "current")
        self.observe(to, f"it refused a {refused} request: {error.detail or error.status_code}")
        return DIALECTS[to]

    def run_request(
        self, dialect: Dialect, endpoint: str, args: RunArgs, *, refresh: str, **kwargs: Any
    ) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        """Build a run in ``dialect``; an async mode on the current dialect is run synchronously and
        said once per client (PostHog today has no async runs)."""
        request = dialect.run_request(endpoint, args, refresh=refresh, **kwargs)
        if dialect is CURRENT and refresh in ASYNC_REFRESH_MODES:
            with self._lock:
                first, self._warned_sync = not self._warned_sync, True
            if first:
                self._logger.warning(
                    "PostHog at %s runs endpoints synchronously only (current endpoints API): refresh=%r for "
                    "endpoint %r and later async runs of this client run synchronously as refresh=%r instead of "
                    "being polled. This is logged once per client.",
                    self.host,
                    refresh,
                    endpoint,
                    CURRENT.refresh_for(endpoint, refresh),
                )
        return request
