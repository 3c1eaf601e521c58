"""The retry policy: which failures are retried, how long to wait, when to give up (tenacity).

Classification (the only place it is decided):

- retried: 429, 502/503/504, connect errors and connect timeouts (nothing reached the server);
- retried only for idempotent requests: read/write timeouts and dropped connections, and 502/504
  (a gateway may have forwarded the request before failing). GETs, a run POST carrying its
  ``client_query_id``, ``last_execution_times`` and query cancels are idempotent;
- for create/update/delete such an *ambiguous* failure calls the request's ``reconcile`` hook, which
  reads the state back: applied -> its answer is returned; not applied -> the request is resent;
- never retried: 400, 401, 403, 404 and every other answer;
- a gateway cut (:func:`is_gateway_cut`: a 502/503/504 or dropped connection once the request was
  open for about the gateway's limit) is retried at most once, whatever ``max_retries`` says: the
  same heavy query would be cut again.

Waits grow exponentially with jitter; a server's ``Retry-After`` (or PostHog's "Expected available
in N seconds") is honoured. Retries stop after ``max_retries`` or when the next wait would pass the
deadline; a single wait longer than ``MAX_SINGLE_WAIT`` (or the configured ``max_wait``, if larger) is
not slept at all (the error is raised with its ``retry_after`` so an orchestrator can reschedule
instead of holding a worker).
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import tenacity

from endpoints_dagster.client.errors import (
    PostHogConnectionError,
    PostHogEndpointsError,
    RateLimitedError,
    ServerError,
)

__all__ = [
    "AMBIGUOUS",
    "FATAL",
    "GATEWAY_SHARE",
    "RETRY",
    "RetryPolicy",
    "classify",
    "is_gateway_cut",
    "parse_retry_after",
]

T = TypeVar("T")

RETRY, AMBIGUOUS, FATAL = "retry", "ambiguous", "fatal"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# A 502/504 comes from a gateway that may already have forwarded the request upstream.
AMBIGUOUS_STATUSES = frozenset({502, 504})
MAX_SINGLE_WAIT = 60.0
# A gateway cuts "at about" its limit: a failure after this share of it is the cut, not a blip.
GATEWAY_SHARE = 0.9
GATEWAY_STATUSES = frozenset({502, 503, 504})

_AVAILABLE_IN = re.compile(r"available in (\d+(?:\.\d+)?) second", re.IGNORECASE)


def parse_retry_after(
    headers: Mapping[str, str] | None, detail: str | None, *, now: float | None = None
) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or "Expected available in N seconds"."""
    value = (headers or {}).get("retry-after") or (headers or {}).get("Retry-After")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if value else None
            if parsed is not None and parsed.tzinfo is not None:
                return max(0.0, parsed.timestamp() - (time.time() if now is None else now))
    match = _AVAILABLE_IN.search(detail or "")
    return float(match.group(1)) if match else None


def classify(error: PostHogEndpointsError, *, idempotent: bool) -> str:
    """RETRY, AMBIGUOUS (may have been applied: check state first) or FATAL."""
    if isinstance(error, RateLimitedError):
        return RETRY
    if isinstance(error, ServerError) and error.status_code in RETRY_STATUSES:
        return RETRY if idempotent or error.status_code not in AMBIGUOUS_STATUSES else AMBIGUOUS
    if isinstance(error, PostHogConnectionError):
        return RETRY if idempotent or not error.request_sent else AMBIGUOUS
    return FATAL


def is_gateway_cut(error: PostHogEndpointsError, gateway_timeout: float | None) -> bool:
    """Whether a failure is the gateway cutting a request at its limit, not a blip.

    A 502/503/504 or a dropped (or timed out) connection after the request was open for at least
    ``GATEWAY_SHARE`` x ``gateway_timeout``: PostHog's gateway stops synchronous requests at about
    60 s. The same statuses arriving quickly are blips, retried as usual.
    """
    if gateway_timeout is None or error.elapsed is None or error.elapsed < GATEWAY_SHARE * gateway_timeout:
        return False
    if isinstance(error, ServerError):
        return error.status_code in GATEWAY_STATUSES
    return isinstance(error, PostHogConnectionError) and error.request_sent


class _Retry(Exception):
    """Carries a retryable error through tenacity (only these are retried)."""

    def __init__(self, error: PostHogEndpointsError) -> None:
        super().__init__(str(error))
        self.error = error


def _retried_error(state: tenacity.RetryCallState) -> PostHogEndpointsError:
    """The error a failed attempt carried through tenacity (only ``_Retry`` reaches wait and sleep)."""
    wrapper = state.outcome.exception() if state.outcome is not None else None
    if not isinstance(wrapper, _Retry):  # pragma: no cover - tenacity retries only _Retry
        raise TypeError(f"expected a retried error, got {wrapper!r}")
    return wrapper.error


def _reason(error: PostHogEndpointsError) -> str:
    if error.status_code is not None:
        return f"{error.status_code}" + (f" {error.code}" if error.code else "")
    cause = error.__cause__
    return type(cause).__name__ if cause is not None else type(error).__name__


class RetryPolicy:
    """Runs one request with classified retries.

    ``sleep(seconds)`` is injectable (tests record the requested waits instead of sleeping);
    ``clock`` is the monotonic clock deadlines are measured with.
    """

    def __init__(
        self,
        *,
        max_retries: int,
        logger: logging.Logger,
        sleep: Callable[[float], Any],
        clock: Callable[[], float] = time.monotonic,
        initial_wait: float = 0.5,
        max_wait: float = 30.0,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}.")
        self.max_retries = max_retries
        self.logger = logger
        self.sleep = sleep
        self.clock = clock
        # A user who allows backoffs past a minute allows single waits that long too.
        self.longest_wait = max(MAX_SINGLE_WAIT, max_wait)
        self._backoff = tenacity.wait_exponential_jitter(
            initial=initial_wait, max=max_wait, jitter=initial_wait
        )

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = _retried_error(state)
        backoff = self._backoff(state)
        hint: float | None = getattr(error, "retry_after", None)
        if hint:
            # Honour the server's hint, plus a little jitter so parallel workers do not return in step.
            return max(backoff, hint + random.uniform(0.0, min(1.0, hint * 0.1)))
        return backoff

    def call(
        self,
        send: Callable[[], T],
        *,
        describe: str,
        idempotent: bool,
        reconcile: Callable[[PostHogEndpointsError], tuple[bool, T]] | None = None,
        deadline: float | None = None,
        sleep: Callable[[float], Any] | None = None,
        gateway_timeout: float | None = None,
    ) -> T:
        """Call ``send()`` until it succeeds, fails for good, or retries are exhausted.

        ``describe`` names the request in log lines ("GET /api/.../run/ for endpoint 'x'").
        ``reconcile(error)`` -> ``(applied, value)`` is asked after an ambiguous failure of a
        non-idempotent request. ``gateway_timeout`` (seconds) tells gateway cuts from blips.
        """
        attempts = cuts = 0

        def attempt() -> T:
            nonlocal attempts, cuts
            attempts += 1
            try:
                return send()
            except PostHogEndpointsError as error:
                error.attempts = attempts
                kind = classify(error, idempotent=idempotent)
                if kind != FATAL and is_gateway_cut(error, gateway_timeout):
                    cuts += 1
                    if cuts > 1:  # cut twice: the query is too heavy, not unlucky
                        raise
                if kind == AMBIGUOUS and reconcile is not None:
                    # A reconcile error (e.g. "exists with another query") propagates: it says more.
                    applied, value = reconcile(error)
                    if applied:
                        self.logger.warning(
                            "%s failed ambiguously (%s) but had been applied", describe, _reason(error)
                        )
                        return value
                    kind = RETRY  # state read back: not applied, so resending is safe
                if kind == RETRY:
                    raise _Retry(error) from error
                raise

        max_retries, longest_wait = self.max_retries, self.longest_wait

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number > max_retries or state.upcoming_sleep > longest_wait:
                return True
            return deadline is not None and self.clock() + state.upcoming_sleep >= deadline

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = _retried_error(state)
            self.logger.warning(
                "retrying %s in %.1fs after %s (retry %d/%d)",
                describe,
                state.upcoming_sleep,
                _reason(error),
                state.attempt_number,
                max_retries,
            )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retry),
            wait=self._wait,
            stop=stop,
            sleep=sleep or self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Retry as wrapper:
            raise wrapper.error from wrapper.error.__cause__
