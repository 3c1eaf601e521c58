"""Collecting a run's pages: JSON rows while the result is small, typed DataFrames once it is large.

A JSON row costs several times the memory of the same values in a DataFrame (a Python object per
value), so keeping every page's rows until the end peaks near 5x the final frame for a 1,000,000-row
result. :class:`PageCollector` keeps the rows as JSON values up to :data:`KEEP_ROWS_UP_TO` (one
full page: ``RunResult.results`` then stays exactly what PostHog sent), and past that converts each
page to a DataFrame as it arrives (:func:`endpoints_dagster.frames.pandas.to_dataframe`), drops its rows,
and concatenates the frames at the end (:func:`endpoints_dagster.frames.pandas.concat_frames`): about 2x
the final frame at peak.

:func:`paused_gc` turns the cyclic garbage collector off while pages are collected: the collector
would otherwise re-scan every kept container on each page (a 1,000,000-row run took 5x longer).
pandas is imported only once a page is converted.

Pages become Arrow tables instead of DataFrames with ``frame_type="arrow"`` (the Arrow and Polars
paths): they are concatenated without a copy, so the peak stays near the final table. With
``frame_type="none"`` no row is kept at all: only the count and the digest (an observation).

Every page also goes through a :class:`~endpoints_dagster.client.runs.digest.ResultDigest` as it is
added, which gives the result's data version without a second pass.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from endpoints_dagster.client.errors import PostHogEndpointsError
from endpoints_dagster.client.runs.digest import ResultDigest

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["COLLECT_KINDS", "KEEP_ROWS_UP_TO", "PageCollector", "paused_gc", "rows_of_frame"]

KEEP_ROWS_UP_TO = 50_000  # PostHog's cap of rows in one response
#: What large pages become: pandas DataFrames, Arrow tables (also for Polars), or nothing kept.
COLLECT_KINDS = ("pandas", "arrow", "none")

_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic GC inside the block; nested and concurrent blocks (fan-out threads) share one pause.

    The collector is re-enabled when the last block exits, only if it was enabled before the first.
    Reference counting still frees everything that holds no cycle (rows and frames hold none).
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


@dataclasses.dataclass(frozen=True)
class _Mark:
    frames: int
    count: int
    digest: ResultDigest
    cut: bool


class PageCollector:
    """The rows of one run, page by page; ``rows`` or ``frame`` at the end (never both).

    Args:
        endpoint: named in errors.
        columns / types: the first page's, shared by every page (checked by the caller).
        timezone: the result's ``timezone`` for ``DateTime`` types without one.
        keep_rows_up_to: rows kept as JSON values before switching to DataFrames (:data:`KEEP_ROWS_UP_TO`).
        kind: what pages past ``keep_rows_up_to`` become (:data:`COLLECT_KINDS`).
        limit: rows past it are neither hashed nor kept (a caller's ``limit`` reached mid-page).

    ``data_version`` is the digest of the rows kept so far (see :mod:`~endpoints_dagster.client.runs.digest`).
    """

    def __init__(
        self,
        endpoint: str,
        columns: Sequence[str],
        types: Sequence[Sequence[str]],
        timezone: str | None,
        *,
        keep_rows_up_to: int | None = None,
        kind: str = "pandas",
        limit: int | None = None,
    ) -> None:
        if kind not in COLLECT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(COLLECT_KINDS)}, got {kind!r}")
        self.endpoint = endpoint
        self.columns, self.types = list(columns), [list(t) for t in types]
        self.timezone = timezone or "UTC"
        if keep_rows_up_to is None:
            # Arrow pages are converted from the first on: two pages of JSON rows at once would be
            # most of the peak, and whoever asks for Arrow reads the table, not ``results``.
            keep_rows_up_to = 0 if kind == "arrow" else KEEP_ROWS_UP_TO
        self.keep_rows_up_to = keep_rows_up_to
        self.kind, self.limit = kind, limit
        self._rows: list[list[Any]] | None = None if kind == "none" else []
        self._frames: list[Any] = []
        self._count = 0
        self._digest = ResultDigest(columns, types, timezone)
        self.cut = False  # whether rows past ``limit`` arrived (so more rows exist)

    @property
    def data_version(self) -> str:
        """The digest of every row added so far (up to ``limit``)."""
        return self._digest.hexdigest()

    def __len__(self) -> int:
        return self._count

    @property
    def converting(self) -> bool:
        """Whether pages are now converted to frames as they arrive."""
        return self._rows is None

    def add(self, rows: list[list[Any]], offset: int) -> None:
        """Add one page's rows (the caller drops its own references to them afterwards).

        A row that does not fit the columns fails here, naming the endpoint: kept as JSON it would
        otherwise pass the run unnoticed and fail later, in whoever reads it.
        """
        self._check_widths(rows, offset)
        if self.limit is not None and self._count + len(rows) > self.limit:
            rows, self.cut = rows[: max(0, self.limit - self._count)], True
        self._digest.update(rows)
        if self.kind == "none":
            self._count += len(rows)
            return
        if self._rows is not None and self._count + len(rows) <= self.keep_rows_up_to:
            self._rows.extend(rows)
        else:
            if self._rows is not None:  # crossing the threshold: the rows so far become the first frame
                kept, self._rows = self._rows, None
                if kept:
                    self._frames.append(self._convert(kept, offset - len(kept)))
                del kept
            if rows:
                self._frames.append(self._convert(rows, offset))
        self._count += len(rows)

    def mark(self) -> _Mark:
        """The collector's state now, for :meth:`restore` (to undo a page that turned out unreadable).

        Only once pages are converted (:attr:`converting`): JSON rows kept so far cannot be undone.
        """
        if not self.converting:
            raise RuntimeError("mark() needs a collector that converts its pages")
        return _Mark(len(self._frames), self._count, self._digest.copy(), self.cut)

    def restore(self, mark: _Mark) -> None:
        """Forget every row added since :meth:`mark` gave ``mark``."""
        del self._frames[mark.frames :]
        self._count, self._digest, self.cut = mark.count, mark.digest.copy(), mark.cut

    def trim(self, count: int) -> None:
        """Keep the first ``count`` rows (a caller's ``limit`` reached mid-page)."""
        if count >= self._count:
            return
        if self._rows is not None:
            del self._rows[count:]
        else:
            kept, seen = [], 0
            for frame in self._frames:
                if seen >= count:
                    break
                if seen + len(frame) <= count:
                    kept.append(frame)
                elif self.kind == "arrow":
                    kept.append(frame.slice(0, count - seen))
                else:
                    kept.append(frame.iloc[: count - seen])
                seen += len(frame)
            self._frames = kept
        self._count = count

    def finish(self) -> tuple[list[list[Any]] | None, pd.DataFrame | pa.Table | None]:
        """``(rows, None)`` for a small result, ``(None, frame)`` for a converted one (a DataFrame,
        or an Arrow table with ``kind="arrow"``); ``(None, None)`` with ``kind="none"``."""
        if self._rows is not None:
            return self._rows, None
        if self.kind == "none":
            return None, None
        frames, self._frames = self._frames, []
        if not frames:
            return [], None
        if self.kind == "arrow":
            from endpoints_dagster.frames.arrow import concat_tables

            return None, concat_tables(frames)
        from endpoints_dagster.frames.pandas import concat_frames

        return None, concat_frames(frames)

    def _check_widths(self, rows: list[list[Any]], offset: int) -> None:
        if not rows or isinstance(rows[0], dict):  # JSONEachRow-style objects are matched by name
            return
        width = len(self.columns)
        try:
            fits = set(map(len, rows)) == {width}  # one pass in C: cheap even for 50,000 rows
        except TypeError:  # a row that is a number or null
            fits = False
        if fits:
            return
        index, row = next(
            (i, r) for i, r in enumerate(rows) if not isinstance(r, (list, tuple)) or len(r) != width
        )
        names = ", ".join(self.columns[:10]) + (", ..." if width > 10 else "")
        if isinstance(row, (list, tuple)):
            why = f"row {offset + index:,} has {len(row)} values but there are {width} columns ({names})"
        else:
            why = f"row {offset + index:,} is {type(row).__name__} instead of a list of {width} values ({names})"
        raise self._unreadable(offset, f"{why}; the response is malformed.")

    def _unreadable(self, offset: int, why: str) -> PostHogEndpointsError:
        return PostHogEndpointsError(
            f"The page of endpoint {self.endpoint!r} at offset {offset:,} cannot be read: {why} Check that "
            "host points at PostHog's API; run it again, or narrow the query.",
            endpoint=self.endpoint,
        )

    def _convert(self, rows: list[list[Any]], offset: int) -> pd.DataFrame | pa.Table:
        try:
            if self.kind == "arrow":
                from endpoints_dagster.frames.arrow import to_arrow_table

                return to_arrow_table(self.columns, self.types, rows, timezone=self.timezone)
            from endpoints_dagster.frames.pandas import to_dataframe

            return to_dataframe(self.columns, self.types, rows, timezone=self.timezone)
        except ValueError as exc:
            raise self._unreadable(offset, str(exc)) from None


def rows_of_frame(frame: pd.DataFrame | None) -> list[list[Any]]:
    """A frame's rows as lists of Python values, NULLs as ``None``."""
    if frame is None:
        return []
    columns = []
    for index in range(frame.shape[1]):
        column = frame.iloc[:, index]
        values = column.astype(object)
        missing = column.isna().to_numpy()
        if missing.any():
            values = values.where(~missing, None)
        columns.append(values.tolist())
    return [list(row) for row in zip(*columns, strict=True)]
