"""Parsed PostHog Endpoints API objects.

Each model is a frozen dataclass built with ``from_api(dict)``, which reads the keys it knows and
ignores the rest (PostHog adds keys over time); the full answer stays in ``raw``.

Example::

    endpoint = Endpoint.from_api({"name": "daily_signups", "query": {"kind": "HogQLQuery", "query": "SELECT 1"}})
    endpoint.hogql  # 'SELECT 1'
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas, pyarrow and polars are imported only when a frame is asked for
    import pandas as pd
    import polars as pl
    import pyarrow as pa

__all__ = [
    "Endpoint",
    "EndpointVariable",
    "EndpointVersion",
    "QueryProgress",
    "QueryStatus",
    "RunResult",
    "expand_query",
    "last_execution_times_from_api",
    "parse_datetime",
    "same_query",
]

_FRACTION = re.compile(r"\.(\d+)")


def parse_datetime(value: Any) -> datetime | None:
    """Parse an ISO 8601 timestamp into a timezone-aware datetime; ``None`` if absent or unreadable.

    PostHog writes both ``...Z`` and ``...+00:00``; a timestamp without an offset is taken as UTC.
    Python 3.10's ``fromisoformat`` knows neither ``Z`` nor fractions other than 3 or 6 digits, so
    both are normalised first.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace(" ", "T", 1) if "T" not in value else value.strip()
        if text[-1] in "Zz":
            text = text[:-1] + "+00:00"
        text = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def expand_query(query: Mapping[str, Any] | str) -> dict[str, Any]:
    """A query as PostHog stores it: HogQL text becomes ``{"kind": "HogQLQuery", "query": text}``."""
    if isinstance(query, str):
        return {"kind": "HogQLQuery", "query": query}
    if isinstance(query, Mapping) and query.get("kind"):
        return dict(query)
    raise ValueError(
        "query must be HogQL text or a query dict with a 'kind' (e.g. {'kind': 'HogQLQuery', 'query': 'SELECT ...'})."
    )


def _pruned(value: Any) -> Any:
    """Drop null and empty members: PostHog echoes unsent query keys back as null."""
    if isinstance(value, Mapping):
        out = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def same_query(a: Mapping[str, Any] | str, b: Mapping[str, Any] | str) -> bool:
    """Whether two queries are the same once both are expanded and their nulls dropped."""
    return bool(_pruned(expand_query(a)) == _pruned(expand_query(b)))


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _dict_or_empty(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _hogql_of(query: dict[str, Any]) -> str | None:
    text = query.get("query")
    return text if query.get("kind") == "HogQLQuery" and isinstance(text, str) else None


@dataclass(frozen=True, slots=True)
class EndpointVariable:
    """A ``{variables.code_name}`` placeholder of a HogQL endpoint and its saved default value."""

    code_name: str
    variable_id: str | None = None
    value: Any = None

    @classmethod
    def from_api(cls, data: dict[str, Any], variable_id: str | None = None) -> EndpointVariable:
        return cls(
            code_name=str(data.get("code_name") or ""),
            variable_id=data.get("variableId") or data.get("variable_id") or variable_id,
            value=data.get("value"),
        )


def _variables_of(query: dict[str, Any]) -> list[EndpointVariable]:
    variables = query.get("variables")
    if isinstance(variables, dict):
        items = [(key, value) for key, value in variables.items() if isinstance(value, dict)]
    elif isinstance(variables, list):
        items = [(None, value) for value in variables if isinstance(value, dict)]
    else:
        return []
    return [EndpointVariable.from_api(value, key) for key, value in items if value.get("code_name")]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A saved PostHog endpoint (a named query with versions)."""

    name: str
    id: str | None = None
    description: str | None = None
    query: dict[str, Any] = field(default_factory=dict)
    variables: list[EndpointVariable] = field(default_factory=list)
    is_active: bool = True
    cache_age_seconds: int | None = None
    is_materialized: bool = False
    materialization: dict[str, Any] | None = None
    current_version: int | None = None
    versions_count: int | None = None
    endpoint_path: str | None = None
    url: str | None = None
    ui_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_executed_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def hogql(self) -> str | None:
        """The HogQL text when the endpoint is a ``HogQLQuery``, else ``None`` (insight queries)."""
        return _hogql_of(self.query)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Endpoint:
        query = _dict_or_empty(data.get("query"))
        materialization = data.get("materialization")
        return cls(
            name=str(data.get("name") or ""),
            id=str(data["id"]) if data.get("id") is not None else None,
            description=data.get("description"),
            query=query,
            variables=_variables_of(query),
            is_active=bool(data.get("is_active", True)),
            cache_age_seconds=_int_or_none(data.get("cache_age_seconds")),
            is_materialized=bool(data.get("is_materialized", False)),
            materialization=materialization if isinstance(materialization, dict) else None,
            current_version=_int_or_none(data.get("current_version")),
            versions_count=_int_or_none(data.get("versions_count")),
            endpoint_path=data.get("endpoint_path"),
            url=data.get("url"),
            ui_url=data.get("ui_url"),
            created_at=parse_datetime(data.get("created_at")),
            updated_at=parse_datetime(data.get("updated_at")),
            last_executed_at=parse_datetime(data.get("last_executed_at")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class EndpointVersion:
    """One version of an endpoint's query (a changed query makes a new version)."""

    version: int
    id: str | None = None
    query: dict[str, Any] = field(default_factory=dict)
    is_active: bool = True
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def hogql(self) -> str | None:
        """The HogQL text of this version, if it is a ``HogQLQuery``."""
        return _hogql_of(self.query)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> EndpointVersion:
        query = _dict_or_empty(data.get("query"))
        return cls(
            version=_int_or_none(data.get("version")) or 0,
            id=str(data["id"]) if data.get("id") is not None else None,
            query=query,
            is_active=bool(data.get("is_active", True)),
            created_at=parse_datetime(data.get("created_at")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class QueryProgress:
    """Progress of a running query, as PostHog reports it with ``show_progress=true``."""

    rows_read: int | None = None
    bytes_read: int | None = None
    estimated_rows_total: int | None = None
    time_elapsed: float | None = None
    active_cpu_time: float | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> QueryProgress:
        return cls(
            rows_read=_int_or_none(data.get("rows_read")),
            bytes_read=_int_or_none(data.get("bytes_read")),
            estimated_rows_total=_int_or_none(data.get("estimated_rows_total")),
            time_elapsed=_float_or_none(data.get("time_elapsed")),
            active_cpu_time=_float_or_none(data.get("active_cpu_time")),
        )


@dataclass(frozen=True, slots=True)
class QueryStatus:
    """The state of an async query (``query_status`` in PostHog's answers)."""

    id: str
    complete: bool = False
    error: bool = False
    error_message: str | None = None
    query_progress: QueryProgress | None = None
    results: dict[str, Any] | list[Any] | None = None
    """When complete: the run's RunResult dict (a list for ``last_execution_times``)."""
    start_time: datetime | None = None
    end_time: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def duration(self) -> float | None:
        """Server-side seconds from start to end, when both are known."""
        if self.start_time and self.end_time:
            return max(0.0, (self.end_time - self.start_time).total_seconds())
        return None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> QueryStatus:
        progress = data.get("query_progress")
        return cls(
            id=str(data.get("id") or ""),
            complete=bool(data.get("complete", False)),
            error=bool(data.get("error", False)),
            error_message=data.get("error_message"),
            query_progress=QueryProgress.from_api(progress) if isinstance(progress, dict) else None,
            results=data.get("results"),
            start_time=parse_datetime(data.get("start_time")),
            end_time=parse_datetime(data.get("end_time")),
            raw=data,
        )


def _types_of(value: Any, columns: list[str]) -> list[tuple[str, str]]:
    types: list[tuple[str, str]] = []
    for index, item in enumerate(value if isinstance(value, list) else []):
        if isinstance(item, (list, tuple)) and len(item) >= 2:
            types.append((str(item[0]), str(item[1])))
        elif isinstance(item, str):  # a bare type name: pair it with its column
            types.append((columns[index] if index < len(columns) else f"column_{index}", item))
    return types


@dataclass(frozen=True, slots=True)
class RunResult:
    """The rows of one endpoint run, every page concatenated, with what PostHog said about them.

    ``results`` holds rows as lists in ``columns`` order; ``types`` pairs each column with its
    ClickHouse type. A ``force_cache`` miss (PostHog answers ``"results": null``) gives a result
    with no rows and ``is_cached=False``: check ``row_count`` when you ran with ``force_cache``.
    ``raw`` is PostHog's answer (of the first page) without the rows.

    A result of more than 50,000 rows (several pages) is kept as the typed DataFrame the client
    built page by page, not as JSON rows, to bound memory: ``to_pandas()`` returns it as is, and
    ``results`` rebuilds the rows from it on first access (costly, see :attr:`results`).

    A run made with ``frame_type="arrow"`` or ``"polars"`` keeps every result as an Arrow table,
    built page by page from the first (``to_arrow()`` without a copy; ``results`` and
    ``to_pandas()`` are rebuilt from it), and one made with ``frame_type="none"`` keeps no rows,
    only ``row_count`` and ``data_version``.

    ``data_version`` fingerprints the result (columns, types and rows, hashed as the pages
    arrived): the same table gives the same text, any change another.

    Example::

        result = client.run_endpoint("daily_signups", variables={"since": "2026-01-01"})
        frame = result.to_pandas()
        table = result.to_arrow()  # pip install "endpoints-dagster[arrow]"
        result.data_version  # 'sha256:...'
    """

    columns: list[str]
    types: list[tuple[str, str]]
    _rows: list[list[Any]] | None = field(default_factory=list, repr=False)
    has_more: bool = False
    is_cached: bool = False
    cache_key: str | None = None
    last_refresh: datetime | None = None
    name: str | None = None
    endpoint_version: int | None = None
    endpoint_version_created_at: datetime | None = None
    query_id: str | None = None
    timezone: str | None = None
    endpoint_materialized: bool = False
    server_duration: float | None = None
    total_duration: float = 0.0
    pages: int = 1
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _frame: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    _table: pa.Table | None = field(default=None, repr=False, compare=False)
    _row_count: int | None = field(default=None, repr=False, compare=False)
    _data_version: str | None = field(default=None, repr=False, compare=False)

    @property
    def results(self) -> list[list[Any]]:
        """The rows as lists of JSON values, in ``columns`` order.

        For a result kept as a DataFrame (more than 50,000 rows), the rows are rebuilt from it on
        first access and kept: a Python object per value, several times the frame's memory, with
        values as pandas holds them (``Timestamp`` for dates and times, ``None`` for NULL). Use
        :meth:`to_pandas` for large results.
        """
        if self._rows is None:
            from endpoints_dagster.client.runs.pages import rows_of_frame

            if self._table is not None:
                rows = [list(row.values()) for row in self._table.to_pylist()]
            else:
                rows = rows_of_frame(self._frame)
            object.__setattr__(self, "_rows", rows)
        return self._rows  # type: ignore[return-value]

    @property
    def row_count(self) -> int:
        """How many rows the result holds (also for a run that kept none, ``frame_type="none"``)."""
        if self._rows is None and self._frame is not None:
            return len(self._frame)
        if self._rows is None and self._table is not None:
            return int(self._table.num_rows)
        if self._rows is None and self._row_count is not None:
            return self._row_count
        return len(self._rows or [])

    @property
    def data_version(self) -> str:
        """The result's fingerprint, ``sha256:<hex>``: columns, ClickHouse types, timezone and rows.

        Computed as the pages arrived for a result from ``run_endpoint``; for one built otherwise
        (``RunResult.from_api``), from its rows on first access.

        >>> a = RunResult.from_api({"columns": ["n"], "types": [["n", "UInt8"]], "results": [[1]]})
        >>> b = RunResult.from_api({"columns": ["n"], "types": [["n", "UInt8"]], "results": [[2]]})
        >>> a.data_version == b.data_version
        False
        """
        if self._data_version is None:
            from endpoints_dagster.client.runs.digest import digest_of

            object.__setattr__(
                self, "_data_version", digest_of(self.columns, self.types, self.timezone, self.results)
            )
        return self._data_version  # type: ignore[return-value]

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a typed pandas DataFrame (ClickHouse types mapped to pandas dtypes).

        ``DateTime`` types without a zone use the result's ``timezone`` (UTC if PostHog gave none).
        A result kept as a DataFrame returns that same frame on every call (copy it before changing it).
        """
        if self._frame is not None:
            return self._frame
        from endpoints_dagster.frames.pandas import to_dataframe

        self._check_kept()
        if self._table is not None:  # collected as Arrow: rebuilt from its rows, typed as always
            return to_dataframe(self.columns, self.types, self.results, timezone=self.timezone or "UTC")
        with self._readable():
            return to_dataframe(self.columns, self.types, self._rows or [], timezone=self.timezone or "UTC")

    def to_arrow(self) -> pa.Table:
        """The rows as a typed ``pyarrow.Table`` (needs the ``arrow`` extra).

        Types follow the pandas mapping (see :mod:`endpoints_dagster.frames.arrow`). A result
        collected with ``frame_type="arrow"`` or ``"polars"`` returns its table as is.
        """
        from endpoints_dagster.frames.arrow import frame_to_arrow, to_arrow_table

        if self._table is not None:
            return self._table
        self._check_kept()
        if self._frame is not None:  # collected as pandas pages: converted column by column
            return frame_to_arrow(self._frame, self.columns, self.types, timezone=self.timezone or "UTC")
        with self._readable():
            return to_arrow_table(self.columns, self.types, self._rows or [], timezone=self.timezone or "UTC")

    def to_polars(self) -> pl.DataFrame:
        """The rows as a typed ``polars.DataFrame`` (``polars`` extra), built from :meth:`to_arrow`."""
        from endpoints_dagster.frames.arrow import arrow_to_polars
        from endpoints_dagster.frames.extras import require

        # Both first, so a missing pyarrow names the polars extra (which installs both).
        require("pyarrow", "polars"), require("polars", "polars")
        return arrow_to_polars(self.to_arrow())

    def to_frame(self, frame_type: str = "pandas") -> Any:
        """``to_pandas()``, ``to_polars()`` or ``to_arrow()`` by name."""
        readers = {"pandas": self.to_pandas, "polars": self.to_polars, "arrow": self.to_arrow}
        if frame_type not in readers:
            raise ValueError(f"frame_type must be one of pandas, polars, arrow; got {frame_type!r}")
        return readers[frame_type]()

    def _check_kept(self) -> None:
        from endpoints_dagster.client.errors import PostHogEndpointsError

        if self._rows is None and self._frame is None and self._table is None:
            raise PostHogEndpointsError(
                f"The result of endpoint {self.name!r} was run with frame_type='none' and keeps no rows; "
                "run it with frame_type='pandas', 'polars' or 'arrow' to read them.",
                endpoint=self.name,
            )

    @contextlib.contextmanager
    def _readable(self) -> Iterator[None]:
        """Rows that do not match the columns (a malformed answer) fail with the client's error."""
        from endpoints_dagster.client.errors import PostHogEndpointsError

        try:
            yield
        except ValueError as exc:
            subject = f"endpoint {self.name!r}" if self.name else "the run"
            raise PostHogEndpointsError(
                f"The rows PostHog returned for {subject} cannot be read: {exc} Check that host points at "
                "PostHog's API, and run it again.",
                endpoint=self.name,
            ) from None

    @classmethod
    def from_api(cls, data: dict[str, Any], **overrides: Any) -> RunResult:
        """Build from a run answer (or a complete ``query_status.results``); ``overrides`` win."""
        columns = [str(c) for c in data.get("columns") or []]
        types = _types_of(data.get("types"), columns)
        if not columns and types:
            columns = [name for name, _ in types]
        rows = data.get("results")
        status = _dict_or_empty(data.get("query_status"))
        version = data.get("_version", data.get("endpoint_version"))
        version_created = data.get("_version_created_at", data.get("endpoint_version_created_at"))
        fields: dict[str, Any] = {
            "columns": columns,
            "types": types,
            "_rows": rows if isinstance(rows, list) else [],
            "has_more": bool(data.get("hasMore", data.get("has_more", False))),
            "is_cached": bool(data.get("is_cached", False)),
            "cache_key": data.get("cache_key"),
            "last_refresh": parse_datetime(data.get("last_refresh")),
            "name": data.get("name"),
            "endpoint_version": _int_or_none(version),
            "endpoint_version_created_at": parse_datetime(version_created),
            "query_id": (status.get("id") or None) or data.get("query_id"),
            "timezone": data.get("timezone"),
            "endpoint_materialized": bool(data.get("endpoint_materialized", False)),
            "raw": {key: value for key, value in data.items() if key != "results"},
        }
        fields.update(overrides)
        return cls(**fields)


def last_execution_times_from_api(body: Any) -> dict[str, datetime]:
    """``{name: time}`` from the ``last_execution_times`` wrapper (``query_status.results`` rows).

    ``results: null`` (no names asked) gives ``{}``; rows whose time cannot be read are left out,
    as if that endpoint never ran.
    """
    status = body.get("query_status") if isinstance(body, dict) else None
    rows = status.get("results") if isinstance(status, dict) else None
    times: dict[str, datetime] = {}
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, (list, tuple)) and len(row) >= 2:
            when = parse_datetime(row[1])
            if when is not None:
                times[str(row[0])] = when
    return times
