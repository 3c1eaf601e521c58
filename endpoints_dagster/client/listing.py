"""Reading a whole list from PostHog: a plain array, ``{"results": [...]}``, or DRF pages.

PostHog today paginates endpoint and version lists as ``{"count", "next", "previous", "results"}``
(a documented server may too). Every page is followed to the end. Only the query string of
``next`` is used, sent to our own host and path: a server (or a proxy rewriting URLs) naming
another host or scheme must never receive the API key, and PostHog behind a proxy often builds
``next`` with its internal address.

A list ends within its deadline (the client's ``run_timeout``): a server whose ``next`` links never
stop, each a new page, fails with a :class:`PaginationError` that says how many pages were read in
how long, not after thousands of requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from endpoints_dagster.client.errors import PaginationError, PostHogConnectionError

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
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[list[dict[str, Any]], Any]:
    """Every item of a list, and the first page's body (it tells the dialect).

    ``fetch(params)`` sends one GET and returns its parsed JSON. ``deadline`` (on ``clock``) bounds
    the whole list; each request is bounded by it too (the caller puts it on the request).
    """
    started = clock()
    items: list[dict[str, Any]] = []
    seen: set[tuple[tuple[str, str], ...]] = set()

    def timed_out() -> PaginationError:  # every page sent so far: the first and one per link followed
        return _failed(
            what,
            endpoint,
            f"it timed out after {clock() - started:.0f} s and {len(seen) + 1:,} page requests ({len(items):,} items), "
            "the server still linking a next page",
        )

    def fetch_in_time(page_params: dict[str, Any]) -> Any:
        try:
            return fetch(page_params)
        except PostHogConnectionError as exc:  # the deadline cut the request: say so, not "timed out"
            if deadline is not None and clock() >= deadline and seen:
                raise timed_out() from exc
            raise

    first = body = fetch_in_time(params)
    while True:
        page = body.get("results") if isinstance(body, dict) else body
        items.extend(item for item in page or [] if isinstance(item, dict))
        following = _next_params(body)
        if following is None:
            return items, first
        key = tuple(sorted(following.items()))
        pages = len(seen) + 1
        if key in seen:
            raise _failed(
                what,
                endpoint,
                f"the server's 'next' link repeats ({following}) instead of moving on, so the list would "
                "never end",
            )
        if pages >= MAX_LIST_PAGES:
            raise _failed(what, endpoint, f"the server sent {pages:,} pages and still links a next one")
        if deadline is not None and clock() >= deadline:
            raise timed_out()
        seen.add(key)
        body = fetch_in_time(following)


def _failed(what: str, endpoint: str | None, why: str) -> PaginationError:
    return PaginationError(
        f"Listing {what} failed: {why}. Check the host points at PostHog's API; raise run_timeout if the "
        "project really has that many.",
        endpoint=endpoint,
    )
