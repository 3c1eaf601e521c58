"""Reading a large run page a slice of rows at a time, instead of all its JSON values at once.

``orjson.loads`` of a 50,000-row page holds every value of the page as a Python object (about
five times the page's JSON text) plus its parser's own tree (about twice the text) at the same
moment. While an Arrow table is built page by page, that one page is the largest part of the peak
memory. :func:`split_page` finds the page's ``results`` array in the raw body and leaves its rows
unparsed; :meth:`PageRows.read` then parses about :data:`CHUNK_BYTES` of rows at a time, so the
caller can convert and drop each slice before the next is read.

Nothing is guessed. The body is cut only at byte positions, and each piece is checked by the JSON
parser itself:

- the page without its rows (``results`` replaced by a marker) must parse, and its top-level
  ``results`` must be that marker (not a nested ``"results"`` key, not a duplicate key);
- every slice of rows must parse as a JSON array on its own.

If both hold, the whole body is valid JSON and parses to the same object (a JSON array's items,
split at a comma between two items, are two valid arrays, and a value can stand in for another).
A cut that lands inside a string or a nested array makes its piece invalid, and the next possible
cut is tried. The page without its rows is handed out only after every slice parsed: until then
it is not proven. :func:`split_page` answers ``None`` whenever it cannot cut safely (a small body,
no ``"results":[``, unusual spacing); :meth:`PageRows.read` raises :class:`UnreadableRows` when a
slice does not parse, and the caller undoes what it took and parses the body whole (which then
reports what is wrong).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["CHUNK_BYTES", "SPLIT_FROM_BYTES", "PageRows", "UnreadableRows", "split_page"]

#: Bytes of row text parsed at a time (about 9,000 rows of 8 columns).
CHUNK_BYTES = 1 << 20
#: Bodies shorter than this are parsed whole: splitting them saves little.
SPLIT_FROM_BYTES = 2 << 20
# Positions tried for one cut before giving up on it (a cut inside a string or a nested array fails
# to parse; many in a row only happen with rows built to look like row boundaries).
_TRIES = 8
_KEY = b'"results":['
_NEXT_KEY = re.compile(rb'\]\],"[A-Za-z_][A-Za-z0-9_]*":')


class UnreadableRows(ValueError):
    """A slice of a page's rows is not valid JSON on its own: parse the whole body instead."""


class PageRows:
    """The rows of one page, still as JSON text, and the page without them.

    :meth:`read` parses the rows a slice at a time and hands each slice to the caller; only once
    every slice has parsed is the page known to be what a whole parse would give, so only then is
    it returned.
    """

    def __init__(
        self, content: bytes, start: int, end: int, page: dict[str, Any], *, chunk_bytes: int | None = None
    ) -> None:
        # content[start:end] is the text between the array's brackets: one or more JSON values.
        self._content, self._start, self._end = content, start, end
        self._page = page
        self.chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes

    def __repr__(self) -> str:
        return f"PageRows({self._end - self._start:,} bytes of rows)"

    def read(self, take: Callable[[list[Any]], None]) -> dict[str, Any]:
        """Call ``take`` with each slice of rows, in order; then return the page, ``results`` empty.

        Raises :class:`UnreadableRows` (after the slices before it were taken) when a slice does
        not parse: the caller undoes what it took and parses the body whole.
        """
        view, begin, end = memoryview(self._content), self._start, self._end
        while begin < end:
            rows, begin = self._next_slice(view, begin, end)
            take(rows)
            del rows  # the caller converted or kept what it needs
        return dict(self._page)

    def _next_slice(self, view: memoryview, begin: int, end: int) -> tuple[list[Any], int]:
        """The rows from ``begin`` up to a cut about ``chunk_bytes`` later (or the end), and where
        the next slice begins."""
        cut = begin + self.chunk_bytes
        for _ in range(_TRIES):
            if cut >= end:
                break
            at = self._content.find(b"],[", cut, end)
            if at < 0:
                break
            rows = _parse_items(view, begin, at + 1)
            if rows is not None:
                return rows, at + 2  # the next slice starts at the '[' after the comma
            cut = at + 1  # the cut was inside a string or a nested array: try the next one
        rows = _parse_items(view, begin, end)
        if rows is None:
            raise UnreadableRows(f"the rows from byte {begin:,} to {end:,} are not valid JSON")
        return rows, end


def _parse_items(view: memoryview, begin: int, end: int) -> list[Any] | None:
    """``view[begin:end]`` parsed as the items of a JSON array, or ``None`` if it is not that."""
    try:
        items = orjson.loads(b"".join((b"[", view[begin:end], b"]")))
    except orjson.JSONDecodeError:
        return None
    return items if isinstance(items, list) else None


def split_page(
    content: bytes, *, min_bytes: int | None = None, chunk_bytes: int | None = None
) -> PageRows | None:
    """A large run page's rows left unparsed, or ``None`` to parse the body whole.

    Only a non-empty ``results`` array of arrays at the top level of a JSON object is split, and
    only in a body of at least ``min_bytes`` (:data:`SPLIT_FROM_BYTES`); ``chunk_bytes`` is
    :data:`CHUNK_BYTES` unless given.

    Example::

        rows = split_page(response.content)
        if rows is not None:
            page = rows.read(collector.add)  # slices of about CHUNK_BYTES of JSON each
    """
    if len(content) < (SPLIT_FROM_BYTES if min_bytes is None else min_bytes):
        return None
    key = content.find(_KEY)
    if key < 0:
        return None
    start = key + len(_KEY)  # just after the array's '['
    if content[start : start + 1] != b"[":  # empty, or not rows of arrays
        return None
    # The array ends with the last row's ']' and its own ']', then the next key (']],"name":') or
    # the end of the page (']]}' closing the body). The first can also occur inside a row (a map
    # holding arrays of arrays, or in a string): try each in order.
    marker = f"endpoints-dagster:rows:{uuid.uuid4()}"
    view = memoryview(content)
    last = len(content)
    while last and content[last - 1] in b" \t\r\n":
        last -= 1
    last -= 3  # where ']]}' would start if the rows close the page
    searched = start
    for _ in range(_TRIES):
        found = _NEXT_KEY.search(content, searched)
        at = found.start() if found else -1
        if at < 0:
            if last < searched or content[last : last + 3] != b"]]}":
                return None
            at = last
        page = _header(view, start - 1, at + 2, marker)
        if page is not None:
            page["results"] = []
            return PageRows(content, start, at + 1, page, chunk_bytes=chunk_bytes)
        if at == last:
            return None
        searched = at + 1
    return None


def _header(view: memoryview, begin: int, end: int, marker: str) -> dict[str, Any] | None:
    """The page with ``view[begin:end]`` (its rows array) replaced by ``marker``, if that parses
    and the marker is the page's top-level ``results``."""
    try:
        page = orjson.loads(b"".join((view[:begin], orjson.dumps(marker), view[end:])))
    except orjson.JSONDecodeError:
        return None
    if not isinstance(page, dict) or page.get("results") != marker:
        return None
    return page
