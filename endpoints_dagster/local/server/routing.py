"""HTTP plumbing shared by the route modules: the ``@api`` guard, JSON in and out.

``@api(scope)`` turns ``async def handler(ctx) -> Response`` into a Starlette endpoint
that authenticates the key, checks the scope and the project, applies the rate limit (in
DRF's order), and maps :class:`~.errors.APIError` / :class:`~.errors.PlainError` to
their JSON bodies; any other exception is logged and answered as a 500
``server_error`` (never a traceback, never the key).

Bodies are capped (1 MiB by default, 413 above), must be JSON (415 otherwise) and valid
UTF-8 JSON (400 ``parse_error``); handlers receive parsed values only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from endpoints_dagster.local import api_errors
from endpoints_dagster.local.storage.store import KeyRow

if TYPE_CHECKING:  # pragma: no cover
    from endpoints_dagster.local.server.state import State

log = logging.getLogger("endpoints_local.app")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def error_response(exc: api_errors.APIError | api_errors.PlainError) -> Response:
    headers = exc.headers if isinstance(exc, api_errors.APIError) else None
    return json_response(exc.body(), exc.status, headers)


@dataclass
class Ctx:
    request: Request
    state: State
    key: KeyRow
    project_id: int

    @property
    def base_url(self) -> str:
        url = self.request.url
        return f"{url.scheme}://{url.netloc}"

    @property
    def url(self) -> str:
        """This request's absolute URL without its query, with the canonical trailing slash."""
        return f"{self.base_url}{self.request.url.path.rstrip('/')}/"

    async def json(self) -> Any:
        """The parsed body (``None`` when empty)."""
        return await read_json(self.request, self.state.config.max_body_bytes)

    async def json_object(self, *, allow_empty: bool = False) -> dict[str, Any]:
        body = await self.json()
        if body is None and allow_empty:
            return {}
        if not isinstance(body, dict):
            kind = "an empty body" if body is None else f"a JSON {type(body).__name__}"
            raise api_errors.parse_error(f"Expected a JSON object in the request body, got {kind}.")
        return body


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def read_json(request: Request, max_bytes: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                raise api_errors.payload_too_large(max_bytes)
        except ValueError:
            raise api_errors.parse_error("Content-Length is not a number.") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise api_errors.payload_too_large(max_bytes)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return None
    content_type = request.headers.get("content-type", "")
    if not _is_json(content_type):
        raise api_errors.unsupported_media_type(content_type.split(";", 1)[0].strip())
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson rejects invalid UTF-8 too; its message names the position, never echoes the body.
        raise api_errors.parse_error(f"JSON parse error - {exc}") from None


Handler = Callable[[Ctx], Awaitable[Response]]


def guarded(
    handler: Handler, admit: Callable[[Request, State], Ctx]
) -> Callable[[Request], Awaitable[Response]]:
    """The route for ``handler``: ``admit`` checks the request and makes its context; PostHog's
    errors become their JSON answer, anything else a logged 500 that says nothing of the cause."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(admit(request, request.app.state.local))
        except (api_errors.APIError, api_errors.PlainError) as exc:
            return error_response(exc)
        except Exception:
            log.exception("unexpected error in %s %s", request.method, request.url.path)
            return error_response(api_errors.server_error())

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def api(
    scope: str | None, *, project: bool = True
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Guard a handler: auth (401), scope (403), project (403/404), rate limit (429), api_errors."""

    def admit(request: Request, state: State) -> Ctx:
        key = state.auth.authenticate(request.headers.get("authorization"))
        project_id = _project_id(request) if project else 0
        state.auth.authorize(key, project_id=project_id if project else None, scope=scope)
        if project:
            state.rate_limiter.check(key.id, state.knobs.current.rate_limit_per_minute)
        return Ctx(request, state, key, project_id)

    def decorate(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        return guarded(handler, admit)

    return decorate


def _project_id(request: Request) -> int:
    raw = request.path_params.get("project_id", "")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise api_errors.not_found() from None
    if value < 0:
        raise api_errors.not_found()
    return value
