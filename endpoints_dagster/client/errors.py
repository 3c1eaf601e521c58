"""The exception hierarchy of the PostHog Endpoints client.

Every error derives from :class:`PostHogEndpointsError`, carries the endpoint it is about and what
PostHog answered (status, ``code``, ``detail``, ``attr``), and its message says what to do.
No message, attribute or repr ever holds the API key: the key only travels in a request header, and
request URLs never contain it.

Errors built from HTTP answers are made by :mod:`endpoints_dagster.client.http`; the others (timeouts,
cancellation, the ``max_rows`` guard, paging) are built here from their facts.

Example::

    try:
        client.run_endpoint("daily_signups")
    except EndpointNotFoundError as exc:
        print(exc.endpoint, exc.status_code)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "EndpointNotFoundError",
    "GatewayTimeoutError",
    "InvalidEndpointNameError",
    "InvalidRequestError",
    "PaginationError",
    "PermissionDeniedError",
    "PostHogConnectionError",
    "PostHogEndpointsError",
    "QueryCancelledError",
    "QueryError",
    "QueryFailedError",
    "QueryTimeoutError",
    "RateLimitedError",
    "ServerError",
    "TooManyRowsError",
]


def _rebuild(cls: type[PostHogEndpointsError], message: str, state: dict[str, Any]) -> PostHogEndpointsError:
    obj = cls.__new__(cls)
    Exception.__init__(obj, message)
    obj.__dict__.update(state)
    return obj


class PostHogEndpointsError(Exception):
    """Base class of every error raised by the client.

    Attributes:
        endpoint: the endpoint name the call was about, if any.
        status_code: the HTTP status PostHog answered, if the error came from an answer.
        code / detail / attr: PostHog's error fields (``{"type", "code", "detail", "attr"}``, or
            ``detail`` from ``{"error": ...}``).
        request_method / request_url: the request that failed (the URL never holds the key).
        attempts: how many times the request was sent before giving up.
        elapsed: seconds the last attempt's request was open before it failed, when one was sent.
    """

    elapsed: float | None = None

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status_code: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        attr: str | None = None,
        request_method: str | None = None,
        request_url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint
        self.status_code = status_code
        self.code = code
        self.detail = detail
        self.attr = attr
        self.request_method = request_method
        self.request_url = request_url
        self.attempts = 1

    def __str__(self) -> str:
        if self.attempts > 1:
            return f"{self.message} (after {self.attempts} attempts)"
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    # Exceptions with keyword-only constructors do not pickle by default; Dagster may ship them
    # between processes, so rebuild from the message and the attributes instead of ``args``.
    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


class AuthenticationError(PostHogEndpointsError):
    """401: the API key is missing, malformed, revoked or for another PostHog host."""


class PermissionDeniedError(PostHogEndpointsError):
    """403: the key lacks a scope (``scope`` holds it, e.g. ``endpoint:write``) or the project."""

    scope: str | None = None


class EndpointNotFoundError(PostHogEndpointsError):
    """404: the endpoint (or the requested ``version`` of it) does not exist or is inactive."""

    version: int | None = None
    current_version: int | None = None


class InvalidRequestError(PostHogEndpointsError):
    """400: PostHog refused the request; ``attr`` names the field when PostHog says which."""


class QueryError(InvalidRequestError):
    """400 at run time: the endpoint's query failed in the engine; ``detail`` has the engine's text.

    A subclass of :class:`InvalidRequestError`, so one ``except InvalidRequestError`` catches both a
    bad request and a failing query; catch ``QueryError`` to tell the query's own failure apart.
    """


class RateLimitedError(PostHogEndpointsError):
    """429: throttled. ``retry_after`` is the wait PostHog asked for, in seconds, when it said one."""

    retry_after: float | None = None


class ServerError(PostHogEndpointsError):
    """5xx: PostHog failed or is overloaded (``code == "query_capacity"`` when the engine is busy).

    ``retry_after`` is the wait a ``Retry-After`` header asked for, in seconds, when it gave one.
    """

    retry_after: float | None = None


class QueryFailedError(PostHogEndpointsError):
    """An async query finished with an error; ``error_message`` is the engine's message."""

    def __init__(
        self,
        *,
        endpoint: str | None,
        query_id: str | None,
        error_message: str | None,
        **kwargs: Any,
    ) -> None:
        what = f"endpoint {endpoint!r}" if endpoint else f"query {query_id!r}"
        engine = error_message or "no error message given"
        super().__init__(
            f"The query for {what} failed in PostHog (query id {query_id}): {engine}. "
            "Fix the endpoint's query or the variables passed to it, then run it again.",
            endpoint=endpoint,
            detail=error_message,
            **kwargs,
        )
        self.query_id = query_id
        self.error_message = error_message


class QueryTimeoutError(PostHogEndpointsError):
    """The run did not finish before its deadline (``timeout`` seconds); the query was cancelled.

    ``progress`` says how far a paged run got ("after 12 pages (600,000 rows)").
    """

    def __init__(
        self,
        *,
        endpoint: str | None,
        query_id: str | None,
        timeout: float,
        progress: str | None = None,
        **kwargs: Any,
    ) -> None:
        what = f"endpoint {endpoint!r}" if endpoint else f"query {query_id!r}"
        qid = f" (query id {query_id}, cancelled)" if query_id else ""
        done = f", {progress}" if progress else ""  # e.g. "after 12 pages (600,000 rows)"
        super().__init__(
            f"Running {what} did not finish within {timeout:g} s{qid}{done}. Raise the deadline with "
            "run_endpoint(..., timeout=SECONDS) or the client's run_timeout, or make the query cheaper "
            "(materialize the endpoint or narrow its variables).",
            endpoint=endpoint,
            **kwargs,
        )
        self.query_id = query_id
        self.timeout = timeout
        self.progress = progress


class GatewayTimeoutError(QueryTimeoutError):
    """PostHog's gateway cut a synchronous run at its limit (about 60 s): the endpoint is too heavy to
    run synchronously. ``elapsed`` is how long the last attempt was open, ``attempts`` how many were
    sent (at most two); the query was cancelled by its ``client_query_id``.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        query_id: str | None,
        elapsed: float,
        attempts: int,
        status_code: int | None,
        **kwargs: Any,
    ) -> None:
        how = f"answered {status_code}" if status_code else "dropped the connection"
        qid = f" The query (id {query_id}) was cancelled." if query_id else ""
        PostHogEndpointsError.__init__(
            self,
            f"Endpoint {endpoint!r} ran longer than PostHog's synchronous limit: the gateway {how} after "
            f"{elapsed:.0f} s, on {attempts} attempt(s).{qid} PostHog runs endpoints synchronously behind a "
            "gateway that stops a request at about 60 s, so retrying does not help. Materialize the endpoint "
            f"so runs read a precomputed table: client.update_endpoint({endpoint!r}, is_materialized=True), "
            "or EndpointSpec(..., materialize=True) / `materialize: true` in the component YAML. Or narrow "
            "each run with variables or partitions so it finishes within the limit.",
            endpoint=endpoint,
            status_code=status_code,
            **kwargs,
        )
        self.query_id = query_id
        self.timeout = elapsed
        self.progress = None
        self.elapsed = elapsed
        self.attempts = attempts

    def __str__(self) -> str:  # the message already counts the attempts
        return self.message


class QueryCancelledError(PostHogEndpointsError):
    """The caller cancelled the run (its ``cancel_event`` was set); the remote query was cancelled."""

    def __init__(self, *, endpoint: str | None, query_id: str | None, **kwargs: Any) -> None:
        what = f"endpoint {endpoint!r}" if endpoint else f"query {query_id!r}"
        qid = f" (query id {query_id})" if query_id else ""
        super().__init__(
            f"Run of {what} was cancelled by the caller{qid}; the remote query was asked to stop. "
            "Run it again when you need its results.",
            endpoint=endpoint,
            **kwargs,
        )
        self.query_id = query_id


class TooManyRowsError(PostHogEndpointsError):
    """The result has more rows than the ``max_rows`` guard allows; nothing is returned."""

    def __init__(self, *, endpoint: str | None, rows_at_least: int, max_rows: int, **kwargs: Any) -> None:
        super().__init__(
            f"Endpoint {endpoint!r} returns at least {rows_at_least:,} rows, more than max_rows={max_rows:,}. "
            "No rows were dropped silently: raise the guard with run_endpoint(..., max_rows=N) or the "
            "client's max_rows (max_rows=None removes it), or narrow the query with variables.",
            endpoint=endpoint,
            **kwargs,
        )
        self.rows_at_least = rows_at_least
        self.max_rows = max_rows


class InvalidEndpointNameError(PostHogEndpointsError, ValueError):
    """The name does not match ``^[a-zA-Z][a-zA-Z0-9_-]{0,127}$``; raised before any request."""


class PostHogConnectionError(PostHogEndpointsError):
    """PostHog could not be reached, or the connection failed or timed out (after retries).

    ``request_sent`` is False when nothing reached the server (connect errors), True when the
    request may have been received (read timeout, dropped connection).
    """

    host: str | None = None
    request_sent: bool = False


class PaginationError(PostHogEndpointsError):
    """The server did not honour ``limit``/``offset`` while more rows were announced (``hasMore``)."""
