"""Reading a whole list from PostHog: a plain array, ``{"results": [...]}``, or DRF pages.

PostHog today paginates endpoint and version lists as ``{"count", "next", "previous", "results"}``
(a documented server may too). Every page is followed to the end. Only the query string of
``next`` is used, sent to our own host and path: a server (or a proxy rewriting URLs) naming
another host or scheme must never receive the API key, and PostHog behind a proxy often builds
``next`` with its internal address.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from endpoints_dagster.client.errors import PaginationError

__all__ = ["MAX_LIST_PAGES", "collect_pages"]

MAX_LIST_PAGES = 10_000  # a server that never stops paging is a bug, not a big project


def _next_params(body: Any) -> dict[str, str] | None:
    link = body.get("next") if isinstance(body, dict) else None
    if not isinstance(link, str) or not link:
        return None
    return dict(parse_qsl(urlsplit(link).query, keep_blank_values=True))


def collect_pages(
    fetch: Callable[[dict[str, Any]], Any],
    params: dict[str, Any],
    *,
    what: str,
    endpoint: str | None = None,
) -> tuple[list[dict[str, Any]], Any]:
    """Every item of a list, and the first page's body (it tells the dialect).

    ``fetch(params)`` sends one GET and returns its parsed JSON.
    """
    first = body = fetch(params)
    items: list[dict[str, Any]] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    while True:
        page = body.get("results") if isinstance(body, dict) else body
        items.extend(item for item in page or [] if isinstance(item, dict))
        following = _next_params(body)
        if following is None:
            return items, first
        key = tuple(sorted(following.items()))
        if key in seen or len(seen) >= MAX_LIST_PAGES:
            raise PaginationError(
                f"Listing {what} failed: the server's 'next' link repeats ({following}) instead of moving on, "
                "so the list would never end. Check the host points at PostHog's API.",
                endpoint=endpoint,
            )
        seen.add(key)
        body = fetch(following)
