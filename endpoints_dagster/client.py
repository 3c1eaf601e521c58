"""`EndpointsClient`: a typed client for the PostHog Endpoints API (no Dagster imports).

One method per route of the contract; answers parsed into :mod:`endpoints_dagster.models`; errors
from :mod:`endpoints_dagster.errors`. Retries live in ``_retry``, requests in ``_http``, the async
wait and paging in ``_polling``; the endpoint and version routes in ``_catalog`` (a mixin), list
pages in ``_listing``; what differs between PostHog's documented and current APIs in
:mod:`endpoints_dagster.dialects` (``api_dialect``).

Example::

    with EndpointsClient("https://us.posthog.com", 12345, api_key) as client:
        result = client.run_endpoint("daily_signups", variables={"since": "2026-01-01"})
        frame = result.to_pandas()
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from ._cancel_watch import cancel_when_set
from ._catalog import CatalogRoutes
from ._dialect_state import DialectState
from ._http import HttpSession, Request
from ._names import (
    check_int,
    check_seconds,
    normalize_host,
    validate_api_key,
    validate_endpoint_name,
    validate_project_id,
    validate_query_id,
)
from ._polling import UNSET, RunArgs, Runner, cancel_quietly, default_sleep
from ._retry import RetryPolicy
from .errors import PostHogEndpointsError, QueryCancelledError
from .models import Endpoint, QueryStatus, RunResult, last_execution_times_from_api

__all__ = ["EndpointsClient"]

MAX_PAGE_SIZE = 50_000  # PostHog's hard cap of rows in one response


def _package_version() -> str:
    from . import __version__  # lazily: the package imports this module while initialising

    return str(__version__)


class EndpointsClient(CatalogRoutes):
    """A client for one PostHog project's endpoints, reusing one connection pool.

    Args:
        host: PostHog URL, e.g. ``https://us.posthog.com`` (``http://`` only for loopback hosts
            unless ``allow_insecure_http``).
        project_id: the project id (``12345`` or ``"12345"``).
        api_key: a personal API key with ``endpoint:read`` (and ``endpoint:write`` to manage).
        request_timeout: seconds for one HTTP request.
        max_retries: retries of a retryable failure (429, 502-504, connection errors).
        retry_initial_wait / retry_max_wait: first and largest backoff between retries (a server's
            own hint, Retry-After or "Expected available in N seconds", is honoured as given).
        poll_interval / poll_max_interval: first and largest wait between async status polls.
        run_timeout: default deadline of one ``run_endpoint`` call, paging and polling included.
        max_rows: default guard on rows per run (``None``: no guard).
        page_size: rows asked per page when paging (at most 50,000).
        api_dialect: ``"auto"`` (default: learn it from the server's answers), ``"documented"`` (the
            reference API, and the local server) or ``"current"`` (PostHog as deployed today); see
            :mod:`endpoints_dagster.dialects`.
        verify_ssl, allow_insecure_http, user_agent, transport, logger: see the README.

    The key is sent only as ``Authorization: Bearer ...``; it appears in no repr, log or error.
    """

    def __init__(
        self,
        host: str,
        project_id: int | str,
        api_key: str,
        *,
        request_timeout: float = 30.0,
        max_retries: int = 5,
        retry_initial_wait: float = 0.5,
        retry_max_wait: float = 30.0,
        poll_interval: float = 0.2,
        poll_max_interval: float = 5.0,
        run_timeout: float = 1800.0,
        max_rows: int | None = 1_000_000,
        page_size: int = 50_000,
        api_dialect: str = "auto",
        verify_ssl: bool = True,
        allow_insecure_http: bool = False,
        user_agent: str | None = None,
        transport: httpx.BaseTransport | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self._host = normalize_host(host, allow_insecure_http=allow_insecure_http)
        self._project_id = validate_project_id(project_id)
        key = validate_api_key(api_key)
        self.request_timeout = check_seconds("request_timeout", request_timeout)
        self.poll_interval = check_seconds("poll_interval", poll_interval)
        self.poll_max_interval = max(self.poll_interval, check_seconds("poll_max_interval", poll_max_interval))
        self.run_timeout = check_seconds("run_timeout", run_timeout)
        self.max_retries = check_int("max_retries", max_retries, 0)
        self.max_rows = None if max_rows is None else check_int("max_rows (None for no guard)", max_rows, 1)
        self.page_size = check_int("page_size", page_size, 1, MAX_PAGE_SIZE)
        self._logger = logger or logging.getLogger("endpoints_dagster.client")
        self._cancel_lock = threading.Lock()
        self._cancelled: set[str] = set()
        self._dialects = DialectState(api_dialect, host=self._host, logger=self._logger, project_id=self._project_id)
        # Test hooks: waits and the monotonic clock are looked up on each use.
        self._sleep: Callable[..., bool] = default_sleep
        self._clock: Callable[[], float] = time.monotonic
        agent = f"endpoints-dagster/{_package_version()}"
        policy = RetryPolicy(
            max_retries=max_retries,
            logger=self._logger,
            sleep=lambda s: self._sleep(s),
            clock=lambda: self._clock(),
            initial_wait=check_seconds("retry_initial_wait", retry_initial_wait),
            max_wait=max(retry_initial_wait, check_seconds("retry_max_wait", retry_max_wait)),
        )
        self._http = HttpSession(
            host=self._host,
            project_id=self._project_id,
            api_key=key,
            request_timeout=self.request_timeout,
            verify_ssl=verify_ssl,
            user_agent=f"{agent} {user_agent}" if user_agent else agent,
            policy=policy,
            logger=self._logger,
            transport=transport,
            clock=lambda: self._clock(),
        )

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> EndpointsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool. The client cannot be used afterwards."""
        self._http.close()

    def __repr__(self) -> str:
        return f"EndpointsClient(host={self._host!r}, project_id={self._project_id})"

    @property
    def host(self) -> str:
        """The PostHog URL, without a trailing slash."""
        return self._host

    @property
    def project_id(self) -> int:
        """The project id."""
        return self._project_id

    @property
    def api_dialect(self) -> str:
        """The configured dialect: ``auto``, ``documented`` or ``current``."""
        return self._dialects.mode

    @property
    def dialect(self) -> str:
        """The dialect requests are built in now (``auto`` starts ``documented`` until answers say)."""
        return self._dialects.active.name

    def ui_url_for(self, name: str | Endpoint) -> str:
        """The endpoint's page in the PostHog app (the Endpoint's own ``ui_url`` when it has one)."""
        if isinstance(name, Endpoint):
            return name.ui_url or self.ui_url_for(name.name)
        return f"{self._host}/project/{self._project_id}/endpoints/{validate_endpoint_name(name)}"

    # -- paths -----------------------------------------------------------------------------------

    def _base(self) -> str:
        return f"/api/projects/{self._project_id}/endpoints/"

    def _path(self, name: str, *rest: str) -> str:
        return self._base() + "/".join([validate_endpoint_name(name), *rest]) + "/"

    def _query_path(self, query_id: str) -> str:
        return f"/api/projects/{self._project_id}/query/{validate_query_id(query_id)}/"

    # -- execution times ------------------------------------------------------------------------

    def last_execution_times(self, names: Sequence[str], *, deadline: float | None = None) -> dict[str, datetime]:
        """When each endpoint last ran with an API key (past 6 months), timezone-aware.

        Names that never ran (or do not exist) are absent from the answer. PostHog today records a
        run at most every 30 minutes per endpoint, so a time may be up to 30 minutes old.
        `deadline` (a `time.monotonic()` value) bounds the request and its retries.
        """
        if isinstance(names, str):
            names = [names]
        checked = [validate_endpoint_name(name) for name in names]
        if not checked:
            return {}
        request = Request(
            "POST", self._base() + "last_execution_times/", "read last execution times of",
            json={"names": checked}, deadline=deadline,
        )
        return last_execution_times_from_api(self._http.json(request))

    # -- async query API -------------------------------------------------------------------------

    def get_query_status(self, query_id: str, *, show_progress: bool = True) -> QueryStatus:
        """The status of an async query (complete, error, progress, results when done)."""
        return self._query_status(query_id, show_progress=show_progress)

    def _query_status(
        self, query_id: str, *, show_progress: bool = True, endpoint: str | None = None, deadline: float | None = None,
        sleep: Callable[[float], Any] | None = None,
    ) -> QueryStatus:
        request = Request(
            "GET", self._query_path(query_id), "read the status of", endpoint=endpoint, query_id=query_id,
            params={"show_progress": "true"} if show_progress else None, ok=(200, 202, 400),
            deadline=deadline, sleep=sleep,
        )

        def send() -> QueryStatus:
            response = self._http.send_once(request)
            body = self._http.parse(response, request)
            status = body.get("query_status") if isinstance(body, dict) else None
            if isinstance(status, dict):  # a failed query answers 400 with its status
                return QueryStatus.from_api(status)
            raise self._http.decode(response, request)  # a plain 400 error body

        return self._http.policy.call(
            send, describe=f"GET {request.path} for {request.subject}", idempotent=True, deadline=deadline,
            sleep=sleep,
        )

    def cancel_query(self, query_id: str) -> None:
        """Ask PostHog to stop an async query (200 ``{"message": ...}`` or 204 both succeed)."""
        self._cancel(query_id)

    def _cancel(self, query_id: str, *, endpoint: str | None = None, timeout: float | None = None) -> None:
        # One DELETE per query: the run's own cancel and the watcher of an open request may both try.
        with self._cancel_lock:
            if query_id in self._cancelled:
                return
            self._cancelled.add(query_id)
        try:
            self._send_cancel(query_id, endpoint=endpoint, timeout=timeout)
        except BaseException:
            with self._cancel_lock:
                self._cancelled.discard(query_id)  # not reached PostHog: a later attempt may try again
            raise

    def _send_cancel(self, query_id: str, *, endpoint: str | None, timeout: float | None) -> None:
        request = Request(
            "DELETE", self._query_path(query_id), "cancel", endpoint=endpoint, query_id=query_id,
            ok=(200, 202, 204), timeout=timeout,
        )
        if timeout is None:
            self._http.json(request)
        else:  # best-effort cancels while failing: one short attempt, no retries
            self._http.send_once(request)

    def _cancel_quietly(self, query_id: str | None, endpoint: str | None, why: str) -> None:
        timeout = min(self.request_timeout, 5.0)
        cancel_quietly(lambda qid: self._cancel(qid, endpoint=endpoint, timeout=timeout), query_id, self._logger, why)

    # -- runs ------------------------------------------------------------------------------------

    def run_endpoint(
        self,
        name: str,
        *,
        variables: Mapping[str, Any] | None = None,
        refresh: str = "blocking",
        version: int | None = None,
        client_query_id: str | None = None,
        filters_override: dict[str, Any] | None = None,
        query_override: dict[str, Any] | None = None,
        variables_override: dict[str, Any] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        max_rows: int | None = UNSET,  # type: ignore[assignment]
        timeout: float | None = UNSET,  # type: ignore[assignment]
        on_progress: Callable[[QueryStatus], None] | None = None,
        cancel_event: threading.Event | None = None,
    ) -> RunResult:
        """Run an endpoint and return every row, having waited for an async query and paged.

        Args:
            variables: ``{code_name: value}`` for the query's ``{variables.code_name}``.
            refresh: ``blocking`` (default), ``async``, ``lazy_async``, ``force_blocking``,
                ``force_async`` or ``force_cache`` (a cache miss gives a result without rows). PostHog
                today runs synchronously and knows ``cache``/``force``/``direct``: the blocking and
                lazy modes map to ``cache``, the forced ones to ``force`` (async ones run synchronously,
                with one warning per client), ``direct`` passes through (materialized endpoints), and
                ``force_cache`` is refused. Those three names also work on documented servers
                (``direct`` excepted).
            version: run this version instead of the current one (pinned for every page).
            client_query_id: the id to follow and cancel the query under (a new one per request if
                omitted; PostHog today runs synchronously but still cancels the query by this id).
            limit / offset: return at most ``limit`` rows starting at ``offset`` (paged as needed).
            max_rows: refuse results with more rows (``TooManyRowsError``); defaults to the
                client's ``max_rows``; ``None`` removes the guard.
            timeout: deadline in seconds for the whole call (client's ``run_timeout`` if omitted or None).
            on_progress: called with each :class:`QueryStatus` polled while an async query runs.
            cancel_event: set it (from another thread) to cancel the run and the remote query, also
                while the run request itself is still open (a synchronous run).

        Example::

            result = client.run_endpoint("daily_signups", variables={"since": "2026-01-01"}, refresh="force_async")
            print(result.row_count, result.endpoint_version)
        """
        validate_endpoint_name(name)
        if max_rows is not UNSET and max_rows is not None:
            check_int("max_rows (None for no guard)", max_rows, 1)
        args = RunArgs(
            variables=dict(variables) if variables else None,
            filters_override=filters_override,
            query_override=query_override,
            variables_override=variables_override,
        )
        runner = Runner(
            self,
            name,
            args,
            dialects=self._dialects,
            max_rows=self.max_rows if max_rows is UNSET else max_rows,
            timeout=self.run_timeout if timeout is UNSET or timeout is None else check_seconds("timeout", timeout),
            on_progress=on_progress,
            cancel_event=cancel_event,
        )
        if cancel_event is not None and client_query_id is None:
            client_query_id = uuid.uuid4().hex  # sent, so an open request can be cancelled by it

        def stop() -> None:
            # The query open now (a later page is its own query), or nothing if none was sent yet.
            self._cancel_quietly(runner.active_query_id, name, "the caller cancelled the run")

        with cancel_when_set(cancel_event, stop):
            try:
                return runner.run(
                    refresh=refresh, version=version, client_query_id=client_query_id, limit=limit, offset=offset
                )
            except PostHogEndpointsError as exc:
                if cancel_event is None or not cancel_event.is_set() or isinstance(exc, QueryCancelledError):
                    raise
                # The caller cancelled: whatever the stopped query answered is the consequence, not the news.
                raise QueryCancelledError(endpoint=name, query_id=runner.active_query_id) from exc
