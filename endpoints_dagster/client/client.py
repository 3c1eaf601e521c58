"""`EndpointsClient`: a typed client for the PostHog Endpoints API (no Dagster imports).

One method per route of the contract; answers parsed into :mod:`~endpoints_dagster.client.models`;
errors from :mod:`~endpoints_dagster.client.errors`. Retries live in ``retry``, requests in ``http``,
the async wait and paging in ``runs/``, list pages in ``listing``; what differs between PostHog's
documented and current APIs in ``dialects/`` (``api_dialect``).

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

from endpoints_dagster._version import __version__
from endpoints_dagster.client.dialects.base import Dialect, endpoint_from_api, version_from_api
from endpoints_dagster.client.dialects.registry import CURRENT
from endpoints_dagster.client.dialects.state import (
    DialectState,
    evidence_of_endpoint,
    evidence_of_list,
    evidence_of_versions,
)
from endpoints_dagster.client.errors import (
    EndpointNotFoundError,
    InvalidRequestError,
    PostHogEndpointsError,
    QueryCancelledError,
)
from endpoints_dagster.client.hints import retell_not_found, retell_unknown_variables
from endpoints_dagster.client.http import HttpSession, Request
from endpoints_dagster.client.listing import collect_pages
from endpoints_dagster.client.models import (
    Endpoint,
    EndpointVersion,
    QueryStatus,
    RunResult,
    expand_query,
    last_execution_times_from_api,
    same_query,
)
from endpoints_dagster.client.names import (
    check_int,
    check_seconds,
    normalize_host,
    validate_api_key,
    validate_endpoint_name,
    validate_project_id,
    validate_query_id,
)
from endpoints_dagster.client.retry import RetryPolicy
from endpoints_dagster.client.runs.args import UNSET, RunArgs
from endpoints_dagster.client.runs.cancel import cancel_when_set
from endpoints_dagster.client.runs.polling import Runner, cancel_quietly, default_sleep
from endpoints_dagster.client.variables import undeclared, with_variables

__all__ = ["EndpointsClient"]

MAX_PAGE_SIZE = 50_000  # PostHog's hard cap of rows in one response
# Polars frames are built from the Arrow pages (zero-copy), so both collect Arrow tables.
_COLLECT_BY_FRAME_TYPE = {"pandas": "pandas", "arrow": "arrow", "polars": "arrow", "none": "none"}


def _query_of(name: str, query: Any) -> dict[str, Any]:
    """``expand_query``, its refusal naming the endpoint and the field (before anything is sent)."""
    try:
        return expand_query(query)
    except ValueError as exc:
        raise InvalidRequestError(
            f"Endpoint {name!r}: {exc} Got {type(query).__name__}.", endpoint=name, attr="query"
        ) from None


class EndpointsClient:
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
        run_timeout: default deadline of one ``run_endpoint`` call, paging, polling and reading each
            response body included; it also bounds a whole list (``list_endpoints``, ``list_versions``).
        gateway_timeout: seconds after which PostHog's gateway cuts a synchronous request (about 60 s;
            ``None``: no gateway). A 502/503/504 or dropped connection once a run was open for
            ``GATEWAY_SHARE`` (0.9) x this is the endpoint outgrowing synchronous runs, not a blip:
            it is retried once, the query cancelled, and :class:`GatewayTimeoutError` says to
            materialize the endpoint or narrow it.
        max_rows: default guard on rows per run (``None``: no guard).
        page_size: rows asked per page when paging (at most 50,000).
        api_dialect: ``"auto"`` (default: learn it from the server's answers), ``"documented"`` (the
            reference API, and the local server) or ``"current"`` (PostHog as deployed today); see
            :mod:`endpoints_dagster.client.dialects`.
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
        gateway_timeout: float | None = 60.0,
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
        self.poll_max_interval = max(
            self.poll_interval, check_seconds("poll_max_interval", poll_max_interval)
        )
        self.run_timeout = check_seconds("run_timeout", run_timeout)
        self.gateway_timeout = (
            None if gateway_timeout is None else check_seconds("gateway_timeout", gateway_timeout)
        )
        self.max_retries = check_int("max_retries", max_retries, 0)
        self.max_rows = None if max_rows is None else check_int("max_rows (None for no guard)", max_rows, 1)
        self.page_size = check_int("page_size", page_size, 1, MAX_PAGE_SIZE)
        self._logger = logger or logging.getLogger("endpoints_dagster.client.client")
        self._cancel_lock = threading.Lock()
        self._cancelled: set[str] = set()
        self._dialects = DialectState(
            api_dialect, host=self._host, logger=self._logger, project_id=self._project_id
        )
        # Test hooks: waits and the monotonic clock are looked up on each use.
        self._sleep: Callable[..., bool] = default_sleep
        self._clock: Callable[[], float] = time.monotonic
        agent = f"endpoints-dagster/{__version__}"
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

    # -- endpoints CRUD --------------------------------------------------------------------------

    def list_endpoints(
        self, *, is_active: bool | None = None, created_by: int | None = None
    ) -> list[Endpoint]:
        """All endpoints of the project, inactive ones too unless ``is_active`` filters them.

        Paginated answers (PostHog today) are followed page by page to the end. Deleted endpoints
        are absent (PostHog today soft-deletes them; their names can be reused).
        """
        params: dict[str, Any] = {}
        if is_active is not None:
            params["is_active"] = "true" if is_active else "false"
        if created_by is not None:
            params["created_by"] = int(created_by)
        deadline = self._clock() + self.run_timeout
        items, first = collect_pages(
            lambda page: self._http.json(
                Request("GET", self._base(), "list", params=page, deadline=deadline)
            ),
            params,
            what="the project's endpoints",
            deadline=deadline,
            clock=self._clock,
        )
        self._dialects.observe(evidence_of_list(first), "its list of endpoints is written in it")
        return [endpoint_from_api(item) for item in items]

    def get_endpoint(self, name: str) -> Endpoint:
        """One endpoint by name; :class:`EndpointNotFoundError` if it does not exist (or was deleted)."""
        body = self._http.json(Request("GET", self._path(name), "read", endpoint=name))
        self._dialects.observe(evidence_of_endpoint(body), f"endpoint {name!r} is written in it")
        return endpoint_from_api(body)

    def _write(self, name: str, build: Callable[[Dialect], Request]) -> Endpoint:
        """Send a create/update built in the active dialect; resent once as current if refused as a dialect."""
        dialect = self._dialects.active
        request = build(dialect)
        try:
            body = self._http.json(request)
        except InvalidRequestError as exc:
            if not self._dialects.may_switch(dialect, exc):
                raise
            again = build(self._dialects.switch_after_refusal(exc))  # may refuse a value before sending
            if again.json == request.json:  # the same body would be refused the same way
                raise
            body = self._http.json(again)
        self._dialects.observe(evidence_of_endpoint(body), f"endpoint {name!r} is written in it")
        return endpoint_from_api(body)

    def _read_back(self, name: str) -> Endpoint | None:
        try:
            return self.get_endpoint(name)
        except EndpointNotFoundError:
            return None

    def create_endpoint(
        self,
        name: str,
        query: dict[str, Any] | str,
        *,
        variables: Mapping[str, Any] | None = None,
        description: str | None = None,
        is_active: bool | None = None,
        cache_age_seconds: int | None = None,
        is_materialized: bool | None = None,
    ) -> Endpoint:
        """Create an endpoint; ``query`` as text means ``{"kind": "HogQLQuery", "query": text}``.

        ``cache_age_seconds`` is sent as ``data_freshness_seconds`` to PostHog today, which allows
        only 900, 1800, 3600, 21600, 43200, 86400 or 604800; another value is refused before sending.

        ``variables`` declares the query's ``{variables.x}`` placeholders with their default values,
        ``{"since": "2026-01-01"}``; a placeholder left undeclared is refused before sending
        (:class:`InvalidRequestError` naming it), since every run of the endpoint would fail.

        Not retried blindly: after an ambiguous failure (timeout, dropped connection) the endpoint is
        read back and returned if it exists with the same query; if absent, the create is resent.

        Example::

            client.create_endpoint(
                "daily_signups",
                "SELECT toDate(timestamp) AS day, count() AS signups FROM events "
                "WHERE timestamp >= {variables.since} GROUP BY day",
                variables={"since": "2026-01-01"},
            )
        """
        validate_endpoint_name(name)  # before anything is built or sent
        query_dict = with_variables(name, _query_of(name, query), variables)
        fields: dict[str, Any] = {"name": name, "query": query_dict}
        optional = dict(description=description, is_active=is_active, cache_age_seconds=cache_age_seconds)
        optional["is_materialized"] = is_materialized
        fields.update({key: value for key, value in optional.items() if value is not None})

        def reconcile(error: PostHogEndpointsError) -> tuple[bool, Any]:
            existing = self._read_back(name)
            if existing is None:
                return False, None
            if same_query(existing.query, query_dict):
                return True, existing.raw
            raise InvalidRequestError(
                f"Creating endpoint {name!r} failed ambiguously ({error.message}), and an endpoint with that "
                "name now exists with a different query. Check it in PostHog, then update or delete it.",
                endpoint=name,
                attr="name",
            ) from error

        return self._write(
            name,
            lambda dialect: Request(
                "POST",
                self._base(),
                "create",
                endpoint=name,
                json=dialect.endpoint_fields(name, fields),
                ok=(201, 200),
                idempotent=False,
                reconcile=reconcile,
            ),
        )

    def update_endpoint(
        self, name: str, *, variables: Mapping[str, Any] | None = None, **fields: Any
    ) -> Endpoint:
        """Change fields of an endpoint (PATCH): ``query``, ``description``, ``is_active``,
        ``cache_age_seconds`` (``data_freshness_seconds`` on PostHog today, see :meth:`create_endpoint`),
        ``is_materialized``, ... A changed query makes a new version.

        ``variables`` (``{code_name: default}``) replaces the declared variables, keeping each one's
        id; with a new ``query`` and no ``variables``, the stored declarations of placeholders the new
        query still uses are kept. Either reads the endpoint first; an undeclared placeholder is
        refused before sending.

        After an ambiguous failure the endpoint is read back; if the fields already hold the sent
        values it is returned, otherwise the PATCH is resent (setting the same values is harmless).
        """
        path = self._path(name)
        if not fields and variables is None:
            raise ValueError(
                f"update_endpoint({name!r}) needs at least one field to change, e.g. description='...'."
            )
        new_query = _query_of(name, fields["query"]) if "query" in fields else None
        if variables is not None or (new_query is not None and undeclared(new_query)):
            # The stored query gives the ids to keep, the declarations to carry over, or the query itself.
            stored = self.get_endpoint(name).query
            fields["query"] = with_variables(name, new_query or stored, variables, previous=stored)
        elif new_query is not None:
            fields["query"] = new_query

        def request(dialect: Dialect) -> Request:
            wire = dialect.endpoint_fields(name, fields)

            def reconcile(error: PostHogEndpointsError) -> tuple[bool, Any]:
                existing = self._read_back(name)
                if existing is None:
                    raise error
                for key, value in wire.items():
                    current = existing.raw.get(key)
                    if not (same_query(current, value) if key == "query" and current else current == value):
                        return False, None
                return True, existing.raw

            return Request(
                "PATCH", path, "update", endpoint=name, json=wire, idempotent=False, reconcile=reconcile
            )

        return self._write(name, request)

    def ensure_materialized(self, name: str) -> Endpoint:
        """Turn materialization on for an endpoint unless it already is (idempotent: one read, and a
        PATCH only when it is off). PostHog then builds the table in the background; runs read it
        once it is built. ``materialization`` of the answer says its status.
        """
        endpoint = self.get_endpoint(name)
        if endpoint.is_materialized:
            return endpoint
        self._logger.info("turning materialization on for endpoint %r", name)
        return self.update_endpoint(name, is_materialized=True)

    def delete_endpoint(self, name: str) -> None:
        """Delete an endpoint. After an ambiguous failure, a 404 on read-back counts as deleted.

        PostHog today soft-deletes: the endpoint disappears from every route (404, absent from
        lists) and its name can be reused at once by a new endpoint, which starts again at
        version 1; the old one cannot be restored through the API. A documented server deletes for good.
        """
        path = self._path(name)

        def reconcile(error: PostHogEndpointsError) -> tuple[bool, Any]:
            return self._read_back(name) is None, None

        request = Request(
            "DELETE", path, "delete", endpoint=name, ok=(204, 200, 202), idempotent=False, reconcile=reconcile
        )
        self._http.json(request)

    # -- versions ----------------------------------------------------------------------------------

    def list_versions(self, name: str) -> list[EndpointVersion]:
        """Every version of an endpoint, newest first (paginated answers followed to the end)."""
        path = self._path(name, "versions")
        deadline = self._clock() + self.run_timeout
        items, first = collect_pages(
            lambda page: self._http.json(
                Request("GET", path, "list versions of", endpoint=name, params=page, deadline=deadline)
            ),
            {},
            what=f"the versions of endpoint {name!r}",
            endpoint=name,
            deadline=deadline,
            clock=self._clock,
        )
        self._dialects.observe(
            evidence_of_versions(first), f"the versions of endpoint {name!r} are written in it"
        )
        return [version_from_api(item) for item in items]

    def get_version(self, name: str, version: int) -> EndpointVersion:
        """One version of an endpoint; :class:`EndpointNotFoundError` naming the version if absent.

        Documented servers answer ``versions/{n}/``, PostHog today ``GET {name}/?version=n``. While
        ``auto`` has no evidence yet, a bare 404 from the first route is tried once on the second.
        """
        number = check_int(f"version of endpoint {name!r}", version, 1)

        def read(dialect: Dialect) -> Any:
            parts, params = dialect.version_route(number)
            request = Request(
                "GET",
                self._path(name, *parts),
                "read a version of",
                endpoint=name,
                version=number,
                params=params or None,
            )
            return self._http.json(request)

        try:
            body = read(self._dialects.active)
        except EndpointNotFoundError as exc:
            if self._dialects.known or getattr(exc, "version", None) is not None:
                raise
            body = read(CURRENT)
        if not isinstance(body, dict) or "version" not in body:
            raise PostHogEndpointsError(
                f"PostHog answered a read of version {number} of endpoint {name!r} without a version. Set "
                "api_dialect to 'documented' or 'current' to match the server.",
                endpoint=name,
            )
        if "version_id" in body:  # an endpoint seen at a version: only the current dialect answers so
            self._dialects.observe("current", f"version {number} of endpoint {name!r} is written in it")
        return version_from_api(body)

    # -- executions and queries ----------------------------------------------------------------------

    def last_execution_times(
        self, names: Sequence[str], *, deadline: float | None = None
    ) -> dict[str, datetime]:
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
            "POST",
            self._base() + "last_execution_times/",
            "read last execution times of",
            json={"names": checked},
            deadline=deadline,
        )
        return last_execution_times_from_api(self._http.json(request))

    # -- async query API -------------------------------------------------------------------------

    def get_query_status(self, query_id: str, *, show_progress: bool = True) -> QueryStatus:
        """The status of an async query (complete, error, progress, results when done)."""
        return self._query_status(query_id, show_progress=show_progress)

    def _query_status(
        self,
        query_id: str,
        *,
        show_progress: bool = True,
        endpoint: str | None = None,
        deadline: float | None = None,
        sleep: Callable[[float], Any] | None = None,
    ) -> QueryStatus:
        request = Request(
            "GET",
            self._query_path(query_id),
            "read the status of",
            endpoint=endpoint,
            query_id=query_id,
            params={"show_progress": "true"} if show_progress else None,
            ok=(200, 202, 400),
            deadline=deadline,
            sleep=sleep,
        )

        def send() -> QueryStatus:
            response = self._http.send_once(request)
            body = self._http.parse(response, request)
            status = body.get("query_status") if isinstance(body, dict) else None
            if isinstance(status, dict):  # a failed query answers 400 with its status
                return QueryStatus.from_api(status)
            raise self._http.decode(response, request)  # a plain 400 error body

        return self._http.policy.call(
            send,
            describe=f"GET {request.path} for {request.subject}",
            idempotent=True,
            deadline=deadline,
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
            "DELETE",
            self._query_path(query_id),
            "cancel",
            endpoint=endpoint,
            query_id=query_id,
            ok=(200, 202, 204),
            timeout=timeout,
        )
        if timeout is None:
            self._http.json(request)
        else:  # best-effort cancels while failing: one short attempt, no retries
            self._http.send_once(request)

    def _cancel_quietly(self, query_id: str | None, endpoint: str | None, why: str) -> None:
        timeout = min(self.request_timeout, 5.0)
        cancel_quietly(
            lambda qid: self._cancel(qid, endpoint=endpoint, timeout=timeout), query_id, self._logger, why
        )

    # -- runs ------------------------------------------------------------------------------------

    def _retold(self, name: str, error: PostHogEndpointsError) -> PostHogEndpointsError:
        """A run's 404 or unknown-variable refusal in the caller's words (one extra read; see ``hints``)."""
        if isinstance(error, EndpointNotFoundError):
            return retell_not_found(error, self.list_endpoints, self._project_id)
        if type(error) is InvalidRequestError:
            return retell_unknown_variables(error, name, self.get_endpoint)
        return error

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
        max_rows: int | None = UNSET,
        timeout: float | None = UNSET,
        on_progress: Callable[[QueryStatus], None] | None = None,
        cancel_event: threading.Event | None = None,
        frame_type: str = "pandas",
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
            frame_type: what pages of a large result become as they arrive: ``pandas`` (default),
                ``arrow`` or ``polars`` (Arrow tables, for ``to_arrow()``/``to_polars()`` at the least
                memory), or ``none`` to keep no rows at all: only ``row_count`` and ``data_version``
                (a cheap check whether the result changed).

        Example::

            result = client.run_endpoint("daily_signups", variables={"since": "2026-01-01"}, refresh="force_async")
            print(result.row_count, result.endpoint_version)
        """
        validate_endpoint_name(name)
        if frame_type not in _COLLECT_BY_FRAME_TYPE:
            raise ValueError(
                f"frame_type must be one of {', '.join(_COLLECT_BY_FRAME_TYPE)}, got {frame_type!r}"
            )
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
            timeout=self.run_timeout
            if timeout is UNSET or timeout is None
            else check_seconds("timeout", timeout),
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
                    refresh=refresh,
                    version=version,
                    client_query_id=client_query_id,
                    limit=limit,
                    offset=offset,
                    collect=_COLLECT_BY_FRAME_TYPE[frame_type],
                )
            except PostHogEndpointsError as exc:
                if cancel_event is None or not cancel_event.is_set():
                    retold = self._retold(name, exc)
                    if retold is exc:
                        raise
                    raise retold from exc
                if isinstance(exc, QueryCancelledError):
                    raise
                # The caller cancelled: whatever the stopped query answered is the consequence, not the news.
                raise QueryCancelledError(endpoint=name, query_id=runner.active_query_id) from exc
