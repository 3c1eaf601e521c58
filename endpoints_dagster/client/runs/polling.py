"""Running an endpoint to completion: the run request, the async wait, cancellation and paging.

:class:`Runner` carries one ``run_endpoint`` call. Request bodies come from the client's API dialect
(:mod:`endpoints_dagster.client.dialects`); :func:`build_run_request` is the documented dialect's body.

The async wait polls ``query/{id}/`` on a :class:`~endpoints_dagster.client.runs.schedule.PollSchedule`:
waits of 22% of the query's age (at least ``poll_interval``, at most ``poll_max_interval``), timed
to the predicted end once ``query_progress`` shows a rate, against a ``time.monotonic()`` deadline. It ends:

- complete -> the final :class:`QueryStatus` (its ``results`` hold the run's answer);
- status error -> :class:`QueryFailedError` (the query already stopped; the cancel is harmless);
- deadline -> cancel, then :class:`QueryTimeoutError`;
- the caller's ``cancel_event`` set -> cancel, then :class:`QueryCancelledError`;
- any other exception, ``KeyboardInterrupt`` or run termination -> cancel, then re-raise it.

Waits go through ``wait(seconds) -> cancelled`` so a set ``cancel_event`` is seen at once
(``Event.wait`` instead of ``time.sleep``) and tests can record the intervals instead of sleeping.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from endpoints_dagster.client.errors import (
    GatewayTimeoutError,
    InvalidRequestError,
    PaginationError,
    PostHogConnectionError,
    PostHogEndpointsError,
    QueryCancelledError,
    QueryFailedError,
    QueryTimeoutError,
    ServerError,
    TooManyRowsError,
)
from endpoints_dagster.client.http import Request
from endpoints_dagster.client.models import QueryStatus, RunResult
from endpoints_dagster.client.names import check_int
from endpoints_dagster.client.retry import AMBIGUOUS_STATUSES, is_gateway_cut
from endpoints_dagster.client.runs.args import RunArgs
from endpoints_dagster.client.runs.page_body import UnreadableRows, split_page
from endpoints_dagster.client.runs.pages import PageCollector, paused_gc
from endpoints_dagster.client.runs.schedule import GROWTH, PollSchedule

if TYPE_CHECKING:
    import httpx

    from endpoints_dagster.client.dialects.base import Dialect
    from endpoints_dagster.client.dialects.state import DialectState

__all__ = [
    "GROWTH",
    "Runner",
    "cancel_quietly",
    "default_sleep",
    "wait_for_query",
]


def default_sleep(seconds: float, cancel_event: threading.Event | None = None) -> bool:
    """Sleep, or wait on ``cancel_event`` so a cancel is seen at once; True if it was set."""
    if cancel_event is not None:
        return cancel_event.wait(seconds)
    time.sleep(seconds)
    return False


def cancel_quietly(
    cancel: Callable[[str], None], query_id: str | None, logger: logging.Logger, why: str
) -> None:
    """Ask PostHog to stop ``query_id``; log and swallow any failure (we are already failing)."""
    if not query_id:
        return
    try:
        cancel(query_id)
        logger.info("cancelled query %s (%s)", query_id, why)
    except Exception as exc:
        logger.warning("could not cancel query %s after %s: %s", query_id, why, exc)


def wait_for_query(
    query_id: str,
    *,
    endpoint: str | None,
    get_status: Callable[[str], QueryStatus],
    cancel: Callable[[str], None],
    wait: Callable[[float], bool],
    clock: Callable[[], float],
    deadline: float,
    timeout: float,
    poll_interval: float,
    poll_max_interval: float,
    logger: logging.Logger,
    on_progress: Callable[[QueryStatus], None] | None = None,
    redact: Callable[[str], str] = str,
    progress: str | None = None,
) -> QueryStatus:
    """Poll until the query completes; see the module docstring for every other ending.

    ``redact`` cleans the server's ``error_message`` before it goes into an exception (a server that
    echoes the request's ``Authorization`` header must not put the key in an error text).
    ``progress`` is how far the run had got before this query (a later page), said on timeout.
    """
    schedule = PollSchedule(poll_interval, poll_max_interval, started_at=clock())
    interval = schedule.first_wait()
    polls = 0
    try:
        while True:
            remaining = deadline - clock()
            if remaining <= 0:
                raise QueryTimeoutError(
                    endpoint=endpoint, query_id=query_id, timeout=timeout, progress=progress
                )
            if wait(min(interval, remaining)):
                raise QueryCancelledError(endpoint=endpoint, query_id=query_id)
            try:
                status = get_status(query_id)
            except PostHogEndpointsError as exc:
                if clock() >= deadline:  # the poll failed because time ran out: that is a timeout
                    raise QueryTimeoutError(
                        endpoint=endpoint, query_id=query_id, timeout=timeout, progress=progress
                    ) from exc
                raise
            polls += 1
            if on_progress is not None:
                on_progress(status)
            if status.error:
                message = None if status.error_message is None else redact(str(status.error_message))
                raise QueryFailedError(endpoint=endpoint, query_id=query_id, error_message=message)
            if status.complete:
                logger.debug("query %s complete after %d polls", query_id, polls)
                return status
            interval = schedule.next_wait(clock(), status)
    except QueryFailedError:
        raise
    except QueryTimeoutError:
        cancel_quietly(cancel, query_id, logger, "the run timed out")
        raise
    except QueryCancelledError:
        cancel_quietly(cancel, query_id, logger, "the caller cancelled the run")
        raise
    except BaseException as exc:  # KeyboardInterrupt, run termination, a failing callback, ...
        cancel_quietly(cancel, query_id, logger, f"{type(exc).__name__} while waiting")
        raise


GATEWAY_GRACE = 5.0  # seconds past the gateway's limit a synchronous run request is waited for


def _page_size(*bounds: int | None) -> int:
    return min(bound for bound in bounds if bound is not None)


class Runner:
    """One ``run_endpoint`` call: first request, async wait, pages, guard, result."""

    def __init__(
        self,
        client: Any,
        name: str,
        args: RunArgs,
        *,
        dialects: DialectState,
        max_rows: int | None,
        timeout: float,
        on_progress: Callable[[QueryStatus], None] | None,
        cancel_event: threading.Event | None,
    ) -> None:
        self.client, self.name, self.args, self.dialects = client, name, args, dialects
        self.max_rows, self.timeout = max_rows, timeout
        self.on_progress, self.cancel_event = on_progress, cancel_event
        self.started = client._clock()
        self.deadline = self.started + timeout
        self.server_durations: list[float] = []
        # The query the run is waiting on now (each page is its own query): what a cancel must stop.
        self.active_query_id: str | None = None
        # How far paging got ("after 3 pages (150,000 rows)"), said by a timeout during a later page.
        self.progress: str | None = None

    # -- waiting ---------------------------------------------------------------------------------

    def _wait(self, seconds: float) -> bool:
        return bool(self.client._sleep(seconds, self.cancel_event))

    def _backoff_sleep(self, query_id: str | None) -> Callable[[float], None]:
        def sleep(seconds: float) -> None:  # a cancel also interrupts a retry backoff
            if self._wait(seconds):
                raise QueryCancelledError(endpoint=self.name, query_id=query_id)

        return sleep

    def _redact(self, text: str) -> str:
        secret = getattr(self.client._http, "_secret", None)  # the session's key, as _http redacts details
        return text.replace(secret, "[redacted]") if secret else text

    def _cancel_quietly(self, query_id: str | None, why: str) -> None:
        self.client._cancel_quietly(query_id, self.name, why)

    # -- one request to completion ---------------------------------------------------------------

    def _execute(
        self, method: str, params: dict[str, Any], body: dict[str, Any] | None, version: int | None
    ) -> tuple[dict[str, Any], str | None]:
        """Send one run request and, if PostHog answers async, wait for it. -> (RunResult dict, query id)."""
        response, request, query_id = self._send(method, params, body, version)
        return self._answer(response, self.client._http.parse(response, request), query_id)

    def _execute_page(
        self,
        method: str,
        params: dict[str, Any],
        body: dict[str, Any] | None,
        version: int | None,
        rows: PageCollector,
        offset: int,
    ) -> tuple[dict[str, Any], int | None]:
        """A later page, its rows added to ``rows`` -> (RunResult dict, rows added).

        A large page of a collector that converts pages is read a slice of rows at a time
        (:mod:`~endpoints_dagster.client.runs.page_body`): the dict comes back with ``results``
        empty and the count of rows added. Otherwise, as :meth:`_execute`, with ``None`` added: the
        caller adds ``results``.
        """
        response, request, query_id = self._send(method, params, body, version)
        pending = split_page(response.content) if response.status_code == 200 and rows.converting else None
        if pending is not None:
            mark, added = rows.mark(), 0

            def take(part: list[Any]) -> None:
                nonlocal added
                rows.add(part, offset + added)
                added += len(part)

            try:
                page: dict[str, Any] | None = pending.read(take)
            except UnreadableRows:
                page = None
            # Only a final page that names its offset: the "same rows again" check of a server that
            # does not would need this page's rows, and an async answer has its rows elsewhere.
            if page is not None and page.get("offset") is not None and _is_final(page):
                return page, added
            rows.restore(mark)
        data, _ = self._answer(response, self.client._http.parse(response, request), query_id)
        return data, None

    def _send(
        self, method: str, params: dict[str, Any], body: dict[str, Any] | None, version: int | None
    ) -> tuple[httpx.Response, Request, str | None]:
        """Send one run request (retried as its policy says) -> (answer, request, client query id)."""
        client = self.client
        query_id = body.get("client_query_id") if body else None
        request = Request(
            method,
            client._path(self.name, "run"),
            "run",
            endpoint=self.name,
            version=version,
            params=params,
            json=body,
            ok=(200, 202),
            idempotent=True,
            is_run=True,
            deadline=self.deadline,
            sleep=self._backoff_sleep(query_id),
            gateway_timeout=client.gateway_timeout,
            timeout=self._run_request_timeout(),
        )
        # Set before the check: a cancel arriving after it finds this id, one before it sends nothing.
        self.active_query_id = query_id
        if self.cancel_event is not None and self.cancel_event.is_set():
            raise QueryCancelledError(endpoint=self.name, query_id=query_id)
        try:
            response = client._http.send(request)
        except QueryCancelledError:
            self._cancel_quietly(query_id, "the caller cancelled the run")
            raise
        except PostHogConnectionError as exc:
            if client._clock() < self.deadline:
                self._raise_if_gateway_cut(exc, query_id)
                if exc.request_sent:  # given up on, but PostHog may still be computing it
                    self._cancel_quietly(query_id, "the run request failed")
                raise
            self._cancel_quietly(query_id, "the run timed out")
            raise QueryTimeoutError(
                endpoint=self.name, query_id=query_id, timeout=self.timeout, progress=self.progress
            ) from exc
        except ServerError as exc:
            self._raise_if_gateway_cut(exc, query_id)
            if exc.status_code in AMBIGUOUS_STATUSES:  # a gateway gave up; the query may still run behind it
                self._cancel_quietly(query_id, "the run request failed")
            raise
        except Exception:
            raise
        except BaseException as exc:  # interrupted while PostHog may be computing: stop it there too
            self._cancel_quietly(query_id, f"{type(exc).__name__} during the run request")
            raise
        return response, request, query_id

    def _answer(
        self, response: httpx.Response, data: Any, query_id: str | None
    ) -> tuple[dict[str, Any], str | None]:
        """The RunResult dict of a run's answer: at once, or after waiting for an async run."""
        if not isinstance(data, dict):
            raise PostHogEndpointsError(
                f"PostHog answered the run of endpoint {self.name!r} with {type(data).__name__} instead of an "
                "object. Check that host points at PostHog's API.",
                endpoint=self.name,
                status_code=response.status_code,
            )
        status = data.get("query_status") if isinstance(data.get("query_status"), dict) else None
        if response.status_code == 202 or not _is_final(data):
            query_id = (status or {}).get("id") or query_id
            self.active_query_id = query_id
            if not query_id:
                raise PostHogEndpointsError(
                    f"PostHog started endpoint {self.name!r} asynchronously but gave no query id to follow; "
                    "run it with refresh='blocking' instead.",
                    endpoint=self.name,
                    status_code=response.status_code,
                )
            final = self._wait_for(query_id)
            if final.duration is not None:
                self.server_durations.append(final.duration)
            if not isinstance(final.results, dict):
                raise PostHogEndpointsError(
                    f"The query of endpoint {self.name!r} completed (query id {query_id}) without results in its "
                    "status; run it again, or with refresh='blocking'.",
                    endpoint=self.name,
                )
            return final.results, query_id
        if status is not None and "columns" not in data and isinstance(status.get("results"), dict):
            return status["results"], status.get("id") or query_id
        return data, query_id

    def _run_request_timeout(self) -> float | None:
        """PostHog today answers every run synchronously, within its gateway's limit: a shorter
        ``request_timeout`` would abandon (and resend) runs it is about to answer. Else the default."""
        limit: float | None = self.client.gateway_timeout
        own: float = self.client.request_timeout
        if limit is None or self.dialects.active.name != "current":
            return None
        return max(own, limit + GATEWAY_GRACE)

    def _raise_if_gateway_cut(self, exc: PostHogEndpointsError, query_id: str | None) -> None:
        """A run the gateway cut at its limit (twice, or once when no retry was left): cancel, explain."""
        if not is_gateway_cut(exc, self.client.gateway_timeout):
            return
        self._cancel_quietly(query_id, "PostHog's gateway cut the run at its limit")
        raise GatewayTimeoutError(
            endpoint=self.name,
            query_id=query_id,
            elapsed=exc.elapsed or 0.0,
            attempts=exc.attempts,
            status_code=exc.status_code,
        ) from exc

    def _wait_for(self, query_id: str) -> QueryStatus:
        client = self.client
        return wait_for_query(
            query_id,
            endpoint=self.name,
            get_status=lambda qid: client._query_status(
                qid, endpoint=self.name, deadline=self.deadline, sleep=self._backoff_sleep(qid)
            ),
            cancel=lambda qid: client._cancel(
                qid, endpoint=self.name, timeout=min(client.request_timeout, 5.0)
            ),
            wait=self._wait,
            clock=client._clock,
            deadline=self.deadline,
            timeout=self.timeout,
            poll_interval=client.poll_interval,
            poll_max_interval=client.poll_max_interval,
            logger=client._logger,
            on_progress=self.on_progress,
            redact=self._redact,
            progress=self.progress,
        )

    # -- the whole run ---------------------------------------------------------------------------

    def _first(
        self,
        refresh: str,
        version: int | None,
        client_query_id: str | None,
        want: int | None,
        offset: int | None,
    ) -> tuple[dict[str, Any], str | None, dict[str, Any] | None]:
        """The first request; a documented body the server refuses as a dialect is resent once as current."""
        cap, page_size = self.max_rows, self.client.page_size

        def build(dialect: Dialect) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
            # Without a limit PostHog returns 100 rows (and the current dialect even hides hasMore), so a
            # POST asks for a full page at once: one round trip for most results, no silent truncation.
            bound = None if cap is None else cap + dialect.probe_rows
            return self.dialects.run_request(
                dialect,
                self.name,
                self.args,
                refresh=refresh,
                version=version,
                client_query_id=client_query_id,
                limit=_page_size(want, page_size, bound) if want is not None else None,
                offset=offset,
                auto_limit=_page_size(page_size, bound),
            )

        dialect = self.dialects.for_run(refresh)
        method, params, body = build(dialect)
        try:
            data, query_id = self._execute(method, params, body, version)
        except InvalidRequestError as exc:
            if not self.dialects.may_switch(dialect, exc):
                raise
            method, params, body = build(self.dialects.switch_after_refusal(exc))
            data, query_id = self._execute(method, params, body, version)  # a second refusal is final
        self.dialects.observe_run(self.name, data)
        return data, query_id, body

    def run(
        self,
        *,
        refresh: str,
        version: int | None,
        client_query_id: str | None,
        limit: int | None,
        offset: int | None,
        collect: str = "pandas",
    ) -> RunResult:
        version = None if version is None else check_int(f"version of endpoint {self.name!r}", version, 1)
        limit = None if limit is None else check_int(f"limit for endpoint {self.name!r}", limit, 1)
        offset = None if offset is None else check_int(f"offset for endpoint {self.name!r}", offset, 0)
        if self.cancel_event is not None and self.cancel_event.is_set():
            raise QueryCancelledError(endpoint=self.name, query_id=None)
        want, cap, page_size = limit, self.max_rows, self.client.page_size
        data, query_id, body = self._first(refresh, version, client_query_id, want, offset)
        first = RunResult.from_api(data)
        if version is not None and first.endpoint_version is not None and first.endpoint_version != version:
            # Rows of another version must not land as if they were the pinned one.
            raise PostHogEndpointsError(
                f"Endpoint {self.name!r}: asked for version {version}, but PostHog answered with version "
                f"{first.endpoint_version}. Check that this PostHog supports running a pinned version "
                "(the `version` field), or unpin the version.",
                endpoint=self.name,
            )
        if offset and body and body.get("offset") == offset:
            self._check_offset(data, offset)
        # What the server says (hasMore) and what a full page suggests where hasMore cannot be trusted.
        server = self.dialects.active
        said, maybe = first.has_more, server.may_have_more(len(first.results), (body or {}).get("limit"))
        start = offset or 0
        rows = PageCollector(self.name, first.columns, first.types, first.timezone, kind=collect, limit=want)
        rows.add(first.results, start)
        # Only the server's "same rows again" check needs the previous page's rows; keep them only then.
        previous = first.results if data.get("offset") is None else None
        first, pages = dataclasses.replace(first, _rows=[]), 1
        del data
        # Later pages: same variables and the same version as the first; fresh if the first was computed
        # now (a stale cached page would mix executions), cache-friendly if the first came from cache.
        pinned = first.endpoint_version if first.endpoint_version is not None else version
        later = "blocking" if first.is_cached else "force_blocking"
        later = refresh if refresh in ("force_cache", "direct") else later
        with paused_gc():
            while True:
                fetched = len(rows)
                if want is not None and fetched >= want:
                    said = said or maybe or fetched > want or rows.cut
                    rows.trim(want)
                    break
                if cap is not None and fetched > cap:  # a server that sent more than the limit asked for
                    at_least = fetched + (1 if said else 0)
                    raise TooManyRowsError(endpoint=self.name, rows_at_least=at_least, max_rows=cap)
                if not (said or maybe):
                    break
                if cap is not None and fetched >= cap and said:
                    raise TooManyRowsError(endpoint=self.name, rows_at_least=fetched + 1, max_rows=cap)
                self.progress = f"after {pages:,} pages ({fetched:,} rows)"
                if self.client._clock() >= self.deadline:
                    raise QueryTimeoutError(
                        endpoint=self.name, query_id=None, timeout=self.timeout, progress=self.progress
                    )
                page_offset = start + fetched
                bound = None if cap is None else cap + server.probe_rows - fetched
                size = _page_size(page_size, None if want is None else want - fetched, bound)
                method, params, body = self.dialects.run_request(
                    server,
                    self.name,
                    self.args,
                    refresh=later,
                    version=pinned,
                    client_query_id=None,
                    limit=size,
                    offset=page_offset,
                    auto_limit=size,
                )
                data, added = self._execute_page(method, params, body, pinned, rows, page_offset)
                page = RunResult.from_api(data)
                page_rows = page.row_count if added is None else added
                self._check_page(data, page, first, page_offset, previous, pinned, page_rows)
                if added is None:
                    rows.add(page.results, page_offset)
                said, maybe = page.has_more, server.may_have_more(page_rows, size)
                pages, previous = pages + 1, page.results if data.get("offset") is None else None
                del data, page  # the page's JSON rows live on only as a frame (or in the collector)
            kept, frame = rows.finish()
        durations = self.server_durations
        return dataclasses.replace(
            first,
            _rows=kept,
            _frame=frame if collect == "pandas" else None,
            _table=frame if collect == "arrow" else None,
            _row_count=len(rows),
            _data_version=rows.data_version,
            has_more=said,
            pages=pages,
            query_id=query_id or first.query_id,
            server_duration=sum(durations) if durations else None,
            total_duration=self.client._clock() - self.started,
        )

    def _check_offset(self, data: dict[str, Any], offset: int) -> None:
        echoed = data.get("offset")
        if echoed is not None and echoed != offset:
            raise PaginationError(
                f"Paging endpoint {self.name!r} failed at offset {offset:,}: the server answered offset {echoed}, "
                "so it does not honour paging. Narrow the query so one page holds every row, or fix the server.",
                endpoint=self.name,
            )

    def _check_page(
        self,
        data: dict[str, Any],
        page: RunResult,
        first: RunResult,
        offset: int,
        previous: list[Any] | None,
        pinned: int | None,
        page_rows: int,
    ) -> None:
        """Refuse a page that shows the server is not paging (instead of looping or mixing results).

        ``page_rows``: the page's rows (already added when it was read a slice at a time).
        """

        def fail(why: str) -> PaginationError:
            return PaginationError(
                f"Paging endpoint {self.name!r} failed at offset {offset:,}: {why}. The rows so far were "
                "discarded rather than returned incomplete; run it again, or narrow the query so one page "
                "(limit) holds it all.",
                endpoint=self.name,
            )

        if data.get("results") is None:
            raise fail("the page is not in PostHog's cache (refresh='force_cache'); use refresh='blocking'")
        self._check_offset(data, offset)
        if not page_rows and page.has_more:
            raise fail("the server returned no rows but says more exist")
        if data.get("offset") is None and page.results and previous is not None and page.results == previous:
            raise fail("the server returned the same rows again (it ignores offset)")
        if page.columns and first.columns and page.columns != first.columns:
            raise fail(f"the columns changed from {first.columns} to {page.columns}")
        if pinned is not None and page.endpoint_version is not None and page.endpoint_version != pinned:
            raise fail(f"the endpoint version changed from {pinned} to {page.endpoint_version}")


def _is_final(data: dict[str, Any]) -> bool:
    """Whether a 200 answer is the run's result, not a status of a query still running."""
    status = data.get("query_status")
    return not (isinstance(status, dict) and status.get("complete") is False)
