"""A result's fingerprint, computed page by page as the rows arrive: its data version.

The digest covers the columns, their ClickHouse types, the result's timezone and every row in
order, so two runs that return the same table give the same version and any change (a value, a
column, a type, the order of rows) gives another. Each page is hashed as it is added (``orjson``
writes the page back to compact JSON, SHA-256 reads it), so no second pass over the result is
needed and a page's rows can be dropped at once.

Rows are hashed in the order PostHog returns them: an endpoint whose query has no ``ORDER BY`` may
return the same rows in another order, which is another version.

Example::

    digest = ResultDigest(["n"], [("n", "UInt8")], "UTC")
    digest.update([[1], [2]])
    digest.hexdigest()  # 'sha256:4f1c...' (the same table always gives the same text)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

__all__ = ["CHUNK", "ResultDigest", "digest_of"]

_PREFIX = "sha256:"
CHUNK = 5_000
# Values orjson cannot write (a Decimal or a custom object in rows a caller built) fall back to str.
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


class ResultDigest:
    """SHA-256 over a result's header, then its rows page by page."""

    def __init__(self, columns: Sequence[str], types: Sequence[Sequence[str]], timezone: str | None) -> None:
        self._hash = hashlib.sha256()
        header = [list(columns), [list(t) for t in types], timezone or "UTC"]
        self._hash.update(orjson.dumps(header, default=str, option=_OPTIONS))
        self.rows = 0

    def update(self, rows: Sequence[Sequence[Any]]) -> None:
        """Hash one page's rows (in order). Pages are delimited, so page boundaries do not matter."""
        # Written as JSON arrays of CHUNK rows (a whole page's text would add a fifth to the peak
        # memory of an Arrow run); each loses its brackets and chunks are joined with a comma, so
        # the same rows split into other pages or chunks hash the same.
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            text = orjson.dumps(
                chunk if isinstance(chunk, list) else list(chunk), default=str, option=_OPTIONS
            )
            self._hash.update(b"," if self.rows else b"\n")
            self._hash.update(text[1:-1])
            self.rows += len(chunk)

    def copy(self) -> ResultDigest:
        """An independent digest in the same state (to undo pages added after it)."""
        twin = object.__new__(ResultDigest)
        twin._hash, twin.rows = self._hash.copy(), self.rows
        return twin

    def hexdigest(self) -> str:
        """``sha256:<hex>``; further pages may still be added afterwards."""
        return _PREFIX + self._hash.hexdigest()


def digest_of(
    columns: Sequence[str],
    types: Sequence[Sequence[str]],
    timezone: str | None,
    rows: Sequence[Sequence[Any]],
) -> str:
    """The data version of a whole result at once (what :class:`ResultDigest` gives page by page).

    >>> digest_of(["n"], [("n", "UInt8")], "UTC", [[1]]) == digest_of(["n"], [("n", "UInt8")], None, [[1]])
    True
    """
    digest = ResultDigest(columns, types, timezone)
    digest.update(rows)
    return digest.hexdigest()
