"""PostHog's error shapes, as the local server answers them.

PostHog (Django REST framework + its exception handler) answers most errors as
``{"type", "code", "detail", "attr"}``; a few run paths answer a plain
``{"error": "..."}``. Handlers raise :class:`APIError` (or :class:`PlainError`) and the
app turns it into a JSON response, so no handler builds an error body by hand.

Example::

    raise validation_error("Cache age must be between 300 and 86400 seconds.", attr="cache_age_seconds")
"""

from __future__ import annotations

import math
from typing import Any


class APIError(Exception):
    """An error answered as ``{"type", "code", "detail", "attr"}`` with an HTTP status."""

    def __init__(
        self,
        status: int,
        type_: str,
        code: str,
        detail: str,
        attr: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.type = type_
        self.code = code
        self.detail = detail
        self.attr = attr
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"type": self.type, "code": self.code, "detail": self.detail, "attr": self.attr}


class PlainError(Exception):
    """An error answered as a plain JSON object (PostHog's ``{"error": ...}`` run paths)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body.get("error", body)))
        self.status = status
        self.payload = body

    def body(self) -> dict[str, Any]:
        return dict(self.payload)


def validation_error(detail: str, attr: str | None = None, code: str = "invalid_input") -> APIError:
    """400 ``validation_error``: bad body, unknown variable, query error."""
    return APIError(400, "validation_error", code, detail, attr)


def parse_error(detail: str) -> APIError:
    """400 for a body that is not JSON (DRF's ``parse_error``)."""
    return APIError(400, "validation_error", "parse_error", detail)


def not_found(detail: str = "Not found.") -> APIError:
    """404 ``invalid_request`` / ``not_found``."""
    return APIError(404, "invalid_request", "not_found", detail)


def not_authenticated() -> APIError:
    """401 when no credentials were sent."""
    return APIError(
        401,
        "authentication_error",
        "not_authenticated",
        "Authentication credentials were not provided.",
        headers={"www-authenticate": 'Bearer realm="api"'},
    )


def authentication_failed() -> APIError:
    """401 for a key that does not exist (the key itself is never echoed)."""
    return APIError(
        401,
        "authentication_error",
        "authentication_failed",
        "Personal API key found in request Authorization header is invalid.",
        headers={"www-authenticate": 'Bearer realm="api"'},
    )


def permission_denied(detail: str) -> APIError:
    """403: missing scope or project (PostHog answers both as ``authentication_error``)."""
    return APIError(403, "authentication_error", "permission_denied", detail)


def throttled(wait_seconds: float) -> APIError:
    """429 in DRF's words. No ``Retry-After`` header: clients must read the detail."""
    seconds = max(1, math.ceil(wait_seconds))
    return APIError(
        429,
        "throttled_error",
        "throttled",
        f"Request was throttled. Expected available in {seconds} seconds.",
    )


def query_capacity() -> APIError:
    """503 when the engine is too busy (also used by fault injection)."""
    return APIError(
        503,
        "server_error",
        "query_capacity",
        "The query engine is at capacity. Please try again later.",
    )


def method_not_allowed(method: str) -> APIError:
    return APIError(405, "invalid_request", "method_not_allowed", f'Method "{method}" not allowed.')


def payload_too_large(limit: int) -> APIError:
    return APIError(
        413,
        "invalid_request",
        "request_too_large",
        f"Request body is larger than the limit of {limit} bytes.",
    )


def unsupported_media_type(content_type: str) -> APIError:
    return APIError(
        415,
        "invalid_request",
        "unsupported_media_type",
        f'Unsupported media type "{content_type}" in request.',
    )


def server_error() -> APIError:
    """500 for an unexpected exception (the exception is logged, never echoed)."""
    return APIError(500, "server_error", "error", "A server error occurred.")
