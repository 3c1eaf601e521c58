"""Sending requests to PostHog and turning its answers (or their absence) into typed errors.

One ``httpx.Client`` per session holds the connection pool. The API key lives only in that
client's default ``Authorization`` header: it is never logged, never put in a URL, and scrubbed
from any error text a server might echo back.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

import httpx
import orjson

from endpoints_dagster.client.errors import (
    AuthenticationError,
    EndpointNotFoundError,
    InvalidRequestError,
    PermissionDeniedError,
    PostHogConnectionError,
    PostHogEndpointsError,
    QueryError,
    RateLimitedError,
    ServerError,
)
from endpoints_dagster.client.retry import RetryPolicy, parse_retry_after
from endpoints_dagster.client.watchdog import cut_at

T = TypeVar("T")

__all__ = ["HttpSession", "Request", "decode_error", "loads"]

_SCOPE = re.compile(r"scope\s*'?\"?([a-z_]+:[a-z_]+)", re.IGNORECASE)
_VERSION_NOT_FOUND = re.compile(r"version\s+(\d+)\s+not found", re.IGNORECASE)
# Engine failures as PostHog words them ("Query execution failed: ...") or as ClickHouse does.
_ENGINE_ERROR = re.compile(
    r"^query (execution|resolution) failed|DB::Exception|^Code: \d+|syntax error|unknown (identifier|function|table)"
    r"|there's no column|illegal type|cannot (parse|convert)",
    re.IGNORECASE,
)
_DUMPS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
# A run 400 that is about the request, not the query.
_REQUEST_FIELD = re.compile(
    r"variable|version|override|refresh|limit|offset|inactive|not allowed|not supported", re.I
)


@dataclass(frozen=True)
class Request:
    """One API call: what to send, what counts as success, and how it may be retried."""

    method: str
    path: str
    action: str
    endpoint: str | None = None
    version: int | None = None
    query_id: str | None = None
    params: Mapping[str, Any] | None = None
    json: Any = None
    ok: tuple[int, ...] = (200,)
    idempotent: bool = True
    is_run: bool = False
    deadline: float | None = None
    timeout: float | None = None
    gateway_timeout: float | None = None  # tells a gateway's cut from a blip (runs only)
    reconcile: Callable[[PostHogEndpointsError], tuple[bool, Any]] | None = None
    sleep: Callable[[float], Any] | None = None

    @property
    def subject(self) -> str:
        if self.endpoint:
            return f"endpoint {self.endpoint!r}"
        if self.query_id:
            return f"query {self.query_id!r}"
        return "the project's endpoints"


def _json_default(value: Any) -> Any:
    """What orjson refuses but a caller reasonably passes: ``datetime`` subclasses (pandas' Timestamp)."""
    if isinstance(value, (datetime, date)):
        return (
            None if value != value else value.isoformat()
        )  # pandas' NaT is a datetime that is not equal to itself
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def loads(content: bytes) -> Any:
    """Parse a JSON body with orjson (the fast path for large run results)."""
    return orjson.loads(content)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(t for t in (_text(v) for v in value) if t)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


def _error_fields(content: bytes) -> tuple[Any, str | None, str | None, str | None]:
    """(body, code, detail, attr) from either error shape, a DRF field dict, or a non-JSON body."""
    try:
        body = loads(content) if content else None
    except orjson.JSONDecodeError:
        text = content.decode("utf-8", "replace").strip()
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()
        return None, None, (f"non-JSON answer: {text[:300]}" if text else None), None
    if not isinstance(body, dict):
        return body, None, _text(body), None
    code = body.get("code") if isinstance(body.get("code"), str) else None
    attr = body.get("attr") if isinstance(body.get("attr"), str) else None
    detail = _text(body.get("detail") or body.get("error") or body.get("message"))
    if detail is None:  # DRF's plain {"field": ["message"]}
        fields = {k: v for k, v in body.items() if k not in ("type", "code", "attr")}
        if fields:
            attr = attr or next(iter(fields))
            detail = _text(fields)
    return body, code, detail, attr


def decode_error(
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    request: Request,
    *,
    url: str,
    host: str,
    project_id: int,
    secret: str | None = None,
) -> PostHogEndpointsError:
    """Build the typed error for a non-success answer, with a message that says what to do."""
    if secret and secret.encode() in content:  # a misbehaving proxy echoing headers; before any cut
        content = content.replace(secret.encode(), b"[redacted]")
    body, code, detail, attr = _error_fields(content)
    if secret and detail and secret in detail:  # e.g. a JSON-escaped echo
        detail = detail.replace(secret, "[redacted]")
    # PostHog's details end with a period; ours add the next sentence.
    subject, said = request.subject, (f": {detail.rstrip().rstrip('.')}" if detail else "")
    common: dict[str, Any] = dict(
        endpoint=request.endpoint,
        status_code=status,
        code=code,
        detail=detail,
        attr=attr,
        request_method=request.method,
        request_url=url,
    )
    if status == 401:
        return AuthenticationError(
            f"PostHog at {host} rejected the API key (401) while trying to {request.action} {subject}{said}. "
            "Check personal_api_key: it must be a valid personal API key (phx_...) created on this PostHog host.",
            **common,
        )
    if status == 403:
        match = _SCOPE.search(detail or "")
        scope = match.group(1) if match else None
        if scope:
            text = (
                f"The API key may not {request.action} {subject} (403): it lacks the scope '{scope}'. "
                f"Issue a personal API key with the '{scope}' scope for project {project_id} and use it instead."
            )
        else:
            text = (
                f"The API key may not {request.action} {subject} (403){said}. The key needs access to project "
                f"{project_id} and the scope endpoint:read (endpoint:write to change endpoints); "
                "issue one that has them."
            )
        denied = PermissionDeniedError(text, **common)
        denied.scope = scope
        return denied
    if status == 404:
        return _not_found(request, body, detail, project_id, host, common)
    if status == 429:
        retry_after = parse_retry_after(headers, detail)
        wait = f" PostHog asked to wait {retry_after:g} s." if retry_after is not None else ""
        limited = RateLimitedError(
            f"PostHog rate-limited the request to {request.action} {subject} (429){said}.{wait} Lower the "
            "number of parallel runs or raise max_retries; PostHog allows 240 query runs per minute and "
            "2,400 per hour per key (materialized endpoints: 1,200 and 12,000).",
            **common,
        )
        limited.retry_after = retry_after
        return limited
    if status >= 500:
        what = "PostHog's query engine is busy" if code == "query_capacity" else f"PostHog failed ({status})"
        error = ServerError(
            f"{what} while trying to {request.action} {subject}{said}. This is on PostHog's side: "
            "it was retried where safe; try again later or raise max_retries.",
            **common,
        )
        error.retry_after = parse_retry_after(headers, None)  # 503 + Retry-After
        return error
    if status == 400:
        field = attr or ("version" if "version" in (detail or "").lower() else None)
        if (
            request.is_run
            and attr is None
            and (_ENGINE_ERROR.search(detail or "") or not _REQUEST_FIELD.search(detail or ""))
        ):
            return QueryError(
                f"Endpoint {request.endpoint!r} failed to run (400){said}. Fix the endpoint's query in PostHog "
                "or the variables passed to it; this error is not retried.",
                **common,
            )
        where = f" (field '{field}')" if field else ""
        return InvalidRequestError(
            f"PostHog refused the request to {request.action} {subject}{where} (400){said}. "
            f"Fix {('the ' + repr(field) + ' value') if field else 'the request'} and try again.",
            **common,
        )
    if 300 <= status < 400:
        location = headers.get("location", "")
        return PostHogEndpointsError(
            f"PostHog answered a redirect ({status}) to {location or 'another URL'} for {subject}. Set host to "
            "the final PostHog URL (e.g. https://us.posthog.com or https://eu.posthog.com).",
            **common,
        )
    return PostHogEndpointsError(
        f"PostHog answered {status} while trying to {request.action} {subject}{said}. Check the request "
        "and the PostHog host; this status is not retried.",
        **common,
    )


def _not_found(
    request: Request, body: Any, detail: str | None, project_id: int, host: str, common: dict[str, Any]
) -> PostHogEndpointsError:
    if request.query_id:  # the query API (status, cancel), also while a run of an endpoint waits on it
        of = f" of endpoint {request.endpoint!r}" if request.endpoint else ""
        return PostHogEndpointsError(
            f"Query {request.query_id!r}{of} was not found in project {project_id} (404): the id is unknown or its "
            "status expired. Run the endpoint again to get a new query id.",
            **common,
        )
    match = _VERSION_NOT_FOUND.search(detail or "")
    version = int(match.group(1)) if match else None
    if version is None and request.version is not None and "version" in (detail or "").lower():
        version = request.version
    current = body.get("current_version") if isinstance(body, dict) else None
    if version is not None:
        now = f" (the current version is {current})" if current is not None else ""
        text = (
            f"Version {version} of endpoint {request.endpoint!r} was not found (404){now}. "
            f"List versions with list_versions({request.endpoint!r}), or omit version to use the current one."
        )
    else:
        text = (
            f"Endpoint {request.endpoint!r} was not found in project {project_id} at {host} (404): it does "
            "not exist there, was deleted, or is inactive. Check the name (list_endpoints() shows them), that "
            "it is active, and that project_id and host are those of the project holding it."
        )
    error = EndpointNotFoundError(text, **common)
    error.version = version
    error.current_version = current if isinstance(current, int) else None
    return error


class _DeadlineStream(httpx.SyncByteStream):
    """A response body that raises ``httpx.ReadTimeout`` once the deadline passes between chunks."""

    def __init__(
        self,
        inner: httpx.SyncByteStream | httpx.AsyncByteStream,
        deadline: float,
        clock: Callable[[], float],
        request: httpx.Request,
    ) -> None:
        if not isinstance(inner, httpx.SyncByteStream):  # the session's client is synchronous
            raise TypeError(f"expected a synchronous response stream, got {type(inner).__name__}")
        self._inner, self._deadline, self._clock, self._request = inner, deadline, clock, request

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if self._clock() >= self._deadline:
                raise httpx.ReadTimeout(
                    "the run's deadline passed while the body was read", request=self._request
                )
            yield chunk

    def close(self) -> None:
        self._inner.close()


class HttpSession:
    """The connection pool, the auth header and the retry policy; sends :class:`Request` objects."""

    def __init__(
        self,
        *,
        host: str,
        project_id: int,
        api_key: str,
        request_timeout: float,
        verify_ssl: bool,
        user_agent: str,
        policy: RetryPolicy,
        logger: logging.Logger,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.project_id = project_id
        self.request_timeout = request_timeout
        self.policy = policy
        self.logger = logger
        self.clock = clock
        self._secret = api_key
        self._client = httpx.Client(
            base_url=host,
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": user_agent,
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(request_timeout),
            verify=verify_ssl,
            transport=transport,
            follow_redirects=False,  # a redirect to another origin would drop (or leak) the key
        )

    def close(self) -> None:
        self._client.close()

    @property
    def closed(self) -> bool:
        return self._client.is_closed

    def _timeout(self, request: Request) -> float:
        timeout = request.timeout or self.request_timeout
        if request.deadline is not None:  # a request never outlives the run's deadline
            timeout = min(timeout, max(0.05, request.deadline - self.clock()))
        return timeout

    def send_once(self, request: Request) -> httpx.Response:
        """One attempt: the answer if its status is in ``request.ok``, else a typed error."""
        url = f"{self.host}{request.path}"
        try:
            content = (
                orjson.dumps(request.json, default=_json_default, option=_DUMPS)
                if request.json is not None
                else None
            )
        except TypeError as exc:  # orjson.JSONEncodeError
            raise InvalidRequestError(
                f"Cannot send the request to {request.action} {request.subject}: {exc}. Pass JSON-compatible "
                "values (str, int, float, bool, None, lists, dicts, dates and datetimes).",
                endpoint=request.endpoint,
                request_method=request.method,
                request_url=url,
            ) from None
        headers = {"Content-Type": "application/json"} if content is not None else None
        started = self.clock()
        try:
            response = self._read(
                self._client.build_request(
                    request.method,
                    request.path,
                    params=dict(request.params) if request.params else None,
                    content=content,
                    headers=headers,
                    timeout=self._timeout(request),
                ),
                request.deadline,
            )
        except httpx.HTTPError as exc:
            error = self._connection_error(exc, request, url)
            error.elapsed = self.clock() - started
            raise error from exc
        elapsed = self.clock() - started
        self.logger.debug("%s %s -> %d in %.3fs", request.method, request.path, response.status_code, elapsed)
        if response.status_code in request.ok:
            return response
        failure = self.decode(response, request)
        failure.elapsed = elapsed
        raise failure

    def _read(self, built: httpx.Request, deadline: float | None) -> httpx.Response:
        """Send and read the whole body; with a deadline, the body read is bounded by it too.

        httpx's read timeout bounds each chunk, not the body: a server sending a byte every 0.2 s
        would hold a call forever. So the body is streamed and the deadline checked between chunks.
        """
        response = self._client.send(built, stream=True)
        armed = None
        try:
            if deadline is not None:
                response.stream = _DeadlineStream(response.stream, deadline, self.clock, built)
                # Between chunks the stream checks the deadline; a read blocked on a stalled body
                # is ended by the watchdog (httpx fixed its timeout when the body started).
                armed = cut_at(response, deadline - self.clock())
            response.read()
        finally:
            if armed is not None:
                armed.disarm()
            response.close()
        # httpx's response and its stream refer to each other; a read response is then freed only
        # by the cyclic collector, which is paused while a run collects its pages (every page's
        # body would stay in memory until the run ends). Its body is read: hold just that.
        response.stream = httpx.ByteStream(response.content)
        return response

    def decode(self, response: httpx.Response, request: Request) -> PostHogEndpointsError:
        """The typed error for an answer that is not a success."""
        return decode_error(
            response.status_code,
            response.headers,
            response.content,
            request,
            url=str(response.request.url),
            host=self.host,
            project_id=self.project_id,
            secret=self._secret,
        )

    def _connection_error(self, exc: httpx.HTTPError, request: Request, url: str) -> PostHogConnectionError:
        # Connect failures never reached the server; anything later may have been received.
        sent = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        if isinstance(exc, httpx.TimeoutException):
            what = f"timed out ({type(exc).__name__})"
            hint = "raise request_timeout (or use an async refresh mode for slow queries)"
        else:
            what = f"failed ({type(exc).__name__}: {exc})".replace(self._secret, "[redacted]")
            hint = "check the host, the network and that PostHog is up"
        error = PostHogConnectionError(
            f"The request to {request.action} {request.subject} at {self.host} {what}; {hint}.",
            endpoint=request.endpoint,
            request_method=request.method,
            request_url=url,
        )
        error.host = self.host
        error.request_sent = sent
        return error

    def _retried(self, request: Request, send: Callable[[], T]) -> T:
        # The hook answers in the same shape as ``send`` (a response, or parsed JSON for ``json``).
        reconcile: Callable[[PostHogEndpointsError], tuple[bool, T]] | None = request.reconcile
        return self.policy.call(
            send,
            describe=f"{request.method} {request.path} for {request.subject}",
            idempotent=request.idempotent,
            reconcile=reconcile,
            deadline=request.deadline,
            sleep=request.sleep,
            gateway_timeout=request.gateway_timeout,
        )

    def send(self, request: Request) -> httpx.Response:
        """Send with the retry policy (see :mod:`endpoints_dagster.client.retry`); the raw answer."""
        return self._retried(request, lambda: self.send_once(request))

    def json(self, request: Request) -> Any:
        """Send with retries and parse the JSON answer (``None`` for an empty body, e.g. 204).

        A ``reconcile`` hook of the request returns parsed JSON too.
        """
        return self._retried(request, lambda: self.parse(self.send_once(request), request))

    def parse(self, response: httpx.Response, request: Request) -> Any:
        """The parsed JSON of an answer; a clear error when PostHog (or a proxy) sent something else."""
        if not response.content:
            return None
        try:
            return loads(response.content)
        except orjson.JSONDecodeError:
            raise PostHogEndpointsError(
                f"PostHog answered {response.status_code} with a body that is not JSON while trying to "
                f"{request.action} {request.subject}. Check that host points at PostHog's API "
                f"(e.g. https://us.posthog.com), not a proxy or login page.",
                endpoint=request.endpoint,
                status_code=response.status_code,
                request_method=request.method,
                request_url=str(response.request.url),
            ) from None
