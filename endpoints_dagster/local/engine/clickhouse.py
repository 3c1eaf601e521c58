"""The local server's analytics engine: HogQL endpoint queries on embedded ClickHouse (chDB).

``Engine`` owns a chDB database under ``data_dir/chdb`` holding PostHog's ``events`` table
(built once by ``dataset.py``, then reused across restarts) and the materialized endpoint
tables. ``run()`` translates HogQL (``hogql.py``), binds every value as a query parameter,
applies the endpoint paging rules and returns the rows with their ClickHouse type names.

Facts about chDB 4.x this module is built on (measured, see the tests):

- one process hosts one embedded ClickHouse, opened on one path: a second ``Engine`` on another
  ``data_dir`` in the same process fails until the first is closed (``EngineUnavailable``);
- queries on one connection are serialised, queries on separate connections run in parallel,
  so ``run()`` takes a connection from a small pool: it is safe from many threads at once;
- ``KILL QUERY`` from another connection stops a running query within milliseconds and its
  CPU use drops to zero; this is how ``cancel`` works (the query text carries a unique marker);
- a per-connection progress callback reports rows/bytes read about every 100 ms.

>>> engine = Engine(Path("/tmp/demo-data"), events=20_000)                 # doctest: +SKIP
>>> out = engine.run("SELECT event, count() AS n FROM events GROUP BY event ORDER BY n DESC")  # doctest: +SKIP
>>> out.columns, out.types[1]                                               # doctest: +SKIP
(['event', 'n'], ['n', 'UInt64'])
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import chdb
import orjson

from endpoints_dagster.local.engine import dataset, hogql, query_guard
from endpoints_dagster.local.engine.limits import EngineLimits, LimitExceeded, classify

DEFAULT_LIMIT = 100  # rows for a query without LIMIT and without a `limit` argument (PostHog)
MAX_LIMIT = 50_000  # hard cap of one response (PostHog's MAX_SELECT_RETURNED_ROWS)
LEGACY_MATERIALIZED_DB = "materialized"  # where older builds kept every project's tables
SHARED_DB = "default"  # the generated events, read by each project's ``events`` view
_ROW = "__endpoints_row"  # keeps a materialized table in its query's order

# Output as PostHog's API renders it: 64-bit ints as JSON numbers, datetimes in ISO 8601 UTC.
_OUTPUT_SETTINGS = (
    "session_timezone = 'UTC', date_time_output_format = 'iso', output_format_json_quote_64bit_integers = 0, "
    "output_format_json_quote_64bit_floats = 0, output_format_json_quote_decimals = 0, "
    "output_format_json_escape_forward_slashes = 0"
)
_TABLE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,190}$")
_WATCH_SECONDS = 0.05


@dataclass
class Progress:
    rows_read: int
    bytes_read: int
    estimated_rows_total: int
    time_elapsed: float  # seconds
    active_cpu_time: int  # microseconds (as PostHog); chDB does not report it, so 0


@dataclass
class QueryOutput:
    columns: list[str]
    types: list[list[str]]  # [[name, ClickHouse type name], ...]
    rows: list[list[Any]]  # JSON-ready values; dates and datetimes as ISO strings
    has_more: bool  # more rows exist beyond offset + limit
    limit: int  # the effective limit used
    offset: int
    rows_read: int
    bytes_read: int
    elapsed: float  # engine seconds


class EngineQueryError(Exception):
    """The query cannot run: bad HogQL, an engine error, a missing variable. ``message`` is user-facing."""

    def __init__(self, message: str, attr: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.attr = attr


class EngineLimitError(EngineQueryError):
    """The query stopped at one of its limits; ``limit`` says how PostHog answers that."""

    def __init__(self, limit: LimitExceeded) -> None:
        super().__init__(limit.detail, None)
        self.limit = limit


class EngineQueryCancelled(Exception):
    """The query was stopped because its ``cancel`` event was set."""


class EngineUnavailable(RuntimeError):
    """chDB cannot open this data directory (another one is open in this process)."""


class _Pool:
    """chDB connections, one per concurrent query (a connection runs one query at a time)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False
        # chDB shuts its server down when the last connection closes; this one keeps it up while
        # broken connections are thrown away.
        self._keeper = self._connect()

    def acquire(self) -> Any:
        with self._lock:
            if self._closed:
                raise EngineUnavailable("The engine is closed")
            if self._idle:
                return self._idle.pop()
            return self._connect()

    def _connect(self) -> Any:
        try:
            return chdb.connect(self._path)
        except Exception as exc:  # chDB raises RuntimeError with ClickHouse's text
            raise EngineUnavailable(
                f"Cannot open chDB at {self._path}: {exc}. chDB hosts one data directory per process; "
                "close the other Engine first or run the server in its own process."
            ) from None

    def release(self, conn: Any, *, broken: bool = False) -> None:
        """Return ``conn`` for reuse; a ``broken`` one (its query failed) is closed instead."""
        with self._lock:
            if not self._closed and not broken:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed, idle, self._idle = True, self._idle, []
        for conn in idle:
            conn.close()
        self._keeper.close()


def _clean_error(text: str, marker: str) -> str:
    text = text.replace(marker + " ", "").replace(marker, "")
    return re.sub(r"^(Streaming query failed: )?Code: \d+\. DB::Exception: ", "", text.strip())


def _parse(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {"meta": [], "data": [], "statistics": {}}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # integers beyond 64 bits (Int128/UInt256): stdlib json keeps them
        return json.loads(raw)


class Engine:
    """HogQL on chDB for the local PostHog Endpoints server. Thread-safe; see the module doc."""

    def __init__(
        self,
        data_dir: Path,
        *,
        events: int = 300_000,
        seed: int = 7,
        days: int = 90,
        anchor: datetime | None = None,
        limits: EngineLimits | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.limits = limits or EngineLimits()
        # An empty user_files_path: ClickHouse's file() reads relative to it. (chDB runs as
        # clickhouse-local, which still opens absolute paths: the allowlist is what refuses file().)
        no_files = self.data_dir / "no_user_files"
        no_files.mkdir(exist_ok=True)
        self._pool = _Pool(f"{self.data_dir / 'chdb'}?user_files_path={no_files}")
        self._projects: set[int] = set()
        self._projects_lock = threading.Lock()
        try:
            # Settings in chDB are shared by every connection of the process: set the output
            # conventions once so query_raw() renders values as run() does.
            self._raw(f"SET {_OUTPUT_SETTINGS}")
            self.dataset: dataset.DatasetInfo = dataset.ensure_events(
                lambda sql, params: self._raw(sql, params)["data"],
                self.data_dir,
                events=events,
                seed=seed,
                days=days,
                anchor=anchor,
            )
            self._move_legacy_tables()
        except BaseException:
            self._pool.close()  # release chDB, or no other Engine could open in this process
            raise

    # ------------------------------------------------------------------ queries

    def run(
        self,
        hogql_query: str,
        *,
        variables: Mapping[str, Any] | None = None,
        filters: Mapping[str, Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
        cancel: threading.Event | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        project_id: int = 1,
    ) -> QueryOutput:
        """Run an endpoint's HogQL in ``project_id``'s database and return one page of rows.

        Without its own LIMIT and without ``limit`` a query returns at most 100 rows;
        ``limit`` (capped at 50,000) and ``offset`` page through the result, also of a query
        with its own LIMIT. ``has_more`` is exact: one row more than asked is fetched.

        >>> engine.run("SELECT count() AS n FROM events WHERE event = {variables.e}",  # doctest: +SKIP
        ...            variables={"e": "signup"}).rows
        [[4618]]
        """
        database = self._project_db(project_id)
        query = self._translate(hogql_query, variables, filters, database)
        page, offset = _page(limit, offset, query.has_limit)
        self._engine_check(query, database)
        settings = f"{self.limits.settings(readonly=True)}, {_OUTPUT_SETTINGS}"
        sql = f"SELECT * FROM (\n{query.sql}\n) LIMIT {page + 1} OFFSET {offset} SETTINGS {settings}"
        data = self._execute(sql, query.params, cancel=cancel, on_progress=on_progress, database=database)
        return _output(data, page, offset)

    def check_query(self, hogql_query: str, variables: Mapping[str, Any] | None = None) -> None:
        """Refuse (EngineQueryError, attr ``query``) a query the allowlist refuses; run nothing.

        Variables without a value are judged as strings: their slots are typed parameters, so
        the value cannot change what the query may do.
        """
        values = {name: "" for name in hogql.referenced_variables(hogql_query)}
        values.update({k: v for k, v in (variables or {}).items() if v is not None})
        query = self._translate(hogql_query, values, None, self._project_db(1))
        self._engine_check(query, self._project_db(1))

    def query_raw(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryOutput:
        """Plain ClickHouse SQL with ``{name:Type}`` parameters, every row (for tests and tools)."""
        texts = {k: hogql.bind_value(v, k)[1] for k, v in (params or {}).items()}
        data = self._raw(sql, texts)
        rows = data.get("data", [])
        return _output(data, len(rows), 0)

    def referenced_variables(self, hogql_query: str) -> set[str]:
        """The code names used as ``{variables.x}`` in the query."""
        return hogql.referenced_variables(hogql_query)

    def has_filters_placeholder(self, hogql_query: str) -> bool:
        return hogql.has_filters_placeholder(hogql_query)

    def normalise(self, hogql_query: str) -> str:
        """A whitespace-insensitive form of the query, for "did the query change?"."""
        return hogql.normalise(hogql_query)

    def syntax_error(self, hogql_query: str) -> str | None:
        """Why the query does not parse (HogQL's rules, then ClickHouse's parser), or None.

        Nothing runs: variables are bound as empty strings only so the statement can be parsed. Names of
        tables, columns and functions are not resolved (that happens when the query runs).
        """
        database = self._project_db(1)
        try:
            names = hogql.referenced_variables(hogql_query)
            self._engine_check(
                self._translate(hogql_query, dict.fromkeys(names, ""), None, database), database
            )
        except hogql.HogQLError as exc:
            return exc.message
        except EngineQueryError as exc:
            return exc.message
        return None

    # ------------------------------------------------------------------ materialized tables

    def materialize(
        self, table: str, hogql_query: str, variables: Mapping[str, Any], *, project_id: int = 1
    ) -> int:
        """(Re)build ``table`` in the project's database from the query's full result; return its rows.

        The caller's SELECT runs exactly as a run does: both allowlist checks, ``readonly`` and
        the limits (its result, as TSV text, is bounded by the memory limit too). The table is
        then written from that text through ``format(TSV, ...)`` with query parameters, so the
        one statement without ``readonly`` holds no SQL of the caller's.
        """
        database = self._project_db(project_id)
        name = _table_name(database, table)
        query = self._translate(hogql_query, variables, None, database)
        self._engine_check(query, database)
        limits = self.limits
        settings = (
            f"{limits.settings(readonly=True)}, max_result_bytes = {int(limits.max_memory_usage)}, "
            "result_overflow_mode = 'throw', session_timezone = 'UTC'"
        )
        select = f"SELECT row_number() OVER () AS {_ROW}, * FROM (\n{query.sql}\n) SETTINGS {settings}"
        text = self._execute(select, query.params, database=database, fmt="TSVWithNamesAndTypes")["text"]
        names, types, data = [*text.split("\n", 2), "", ""][:3]
        structure = ", ".join(
            "`" + _tsv_unescape(n).replace("\\", "\\\\").replace("`", "\\`") + "` " + _tsv_unescape(t)
            for n, t in zip(names.split("\t"), types.split("\t"), strict=True)
        )
        self._execute(
            f"CREATE OR REPLACE TABLE {name} ENGINE = MergeTree ORDER BY {_ROW} "
            "AS SELECT * FROM format(TSV, {structure:String}, {data:String}) "
            "SETTINGS session_timezone = 'UTC'",
            {"structure": _param_text(structure), "data": _param_text(data)},
            database=database,
        )
        return int(self._raw(f"SELECT count() FROM {name}")["data"][0][0])

    def run_materialized(
        self, table: str, *, limit: int | None, offset: int = 0, project_id: int = 1
    ) -> QueryOutput:
        """One page of a project's materialized table, in the order its query returned the rows."""
        page, offset = _page(limit, offset, False)
        database = self._project_db(project_id)
        settings = f"{self.limits.settings(readonly=True)}, {_OUTPUT_SETTINGS}"
        sql = (
            f"SELECT * EXCEPT ({_ROW}) FROM {_table_name(database, table)} ORDER BY {_ROW} "
            f"LIMIT {page + 1} OFFSET {offset} SETTINGS {settings}"
        )
        return _output(self._execute(sql, {}, database=database), page, offset)

    def drop_table(self, table: str, *, project_id: int = 1) -> None:
        """Drop a project's materialized table; a missing one is fine."""
        self._raw(f"DROP TABLE IF EXISTS {_table_name(self._project_db(project_id), table)} SYNC")

    def materialized_tables(self) -> list[str]:
        """The names of every project's materialized tables (for the control API)."""
        rows = self._raw(
            "SELECT name FROM system.tables WHERE match(database, '^p[0-9]+$') AND startsWith(name, 'mat_p') "
            "ORDER BY name"
        )["data"]
        return [row[0] for row in rows]

    # ------------------------------------------------------------------ projects

    def _project_db(self, project_id: int) -> str:
        """``p{id}``, created on first use with its own ``events`` view of the generated data.

        Each project's queries run with this database as the current one and may name only
        unqualified tables (the allowlist), so they see their own materialized tables and events
        and nothing of another project's.
        """
        if isinstance(project_id, bool) or not isinstance(project_id, int) or not 0 <= project_id < 2**63:
            raise EngineQueryError(f"Invalid project id {project_id!r}", "project_id")
        database = f"p{project_id}"
        with self._projects_lock:
            if project_id not in self._projects:
                self._raw(f"CREATE DATABASE IF NOT EXISTS {database}")
                # The demo data is the same for every project; a view keeps one copy of it.
                self._raw(f"CREATE VIEW IF NOT EXISTS {database}.events AS SELECT * FROM {SHARED_DB}.events")
                self._projects.add(project_id)
        return database

    def _move_legacy_tables(self) -> None:
        """Tables an older build kept in one shared database move to their project's database."""
        rows = self._raw(
            "SELECT name FROM system.tables WHERE database = {db:String}", {"db": LEGACY_MATERIALIZED_DB}
        )["data"]
        for (name,) in rows:
            match = re.match(r"^mat_p(\d+)_", name)
            if match is None or not _TABLE_RE.match(name):
                continue
            database = self._project_db(int(match.group(1)))
            self._raw(f"RENAME TABLE {LEGACY_MATERIALIZED_DB}.`{name}` TO {database}.`{name}`")

    def close(self) -> None:
        """Close every idle connection; chDB shuts down when the last one closes."""
        self._pool.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _raw(self, sql: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self._execute(sql, params or {})

    def _translate(
        self,
        hogql_query: str,
        variables: Mapping[str, Any] | None,
        filters: Mapping[str, Any] | None,
        database: str,
    ) -> hogql.Translated:
        """HogQL -> checked ClickHouse SQL, or EngineQueryError (never runs what was refused)."""
        try:
            return hogql.translate(hogql_query, variables, filters)
        except hogql.UnparseableQuery as exc:
            # Prefer ClickHouse's own syntax error when it has one (the query runs nowhere either way).
            try:
                self._execute(f"EXPLAIN AST {exc.sql}", exc.params, fmt="TSVRaw", database=database)
            except EngineQueryError as engine_exc:
                raise EngineQueryError(engine_exc.message, "query") from None
            raise EngineQueryError(exc.message, "query") from None
        except hogql.HogQLError as exc:
            raise EngineQueryError(exc.message, exc.attr) from None

    def _engine_check(self, query: hogql.Translated, database: str) -> None:
        """ClickHouse's own parse of the query (``EXPLAIN AST``), judged by the same allowlist.

        sqlglot already passed the query (``hogql.translate``); this closes any gap between its
        reading and ClickHouse's, and turns a ClickHouse syntax error into a 400 before running.
        """
        try:
            explain = self._execute(f"EXPLAIN AST {query.sql}", query.params, fmt="TSVRaw", database=database)
        except EngineQueryError as exc:
            raise EngineQueryError(exc.message, "query") from None
        try:
            query_guard.check_engine_ast(
                explain["text"], tables=hogql.PROJECT_TABLES, ctes=query_guard.cte_names(query.sql)
            )
        except query_guard.QueryRefused as exc:
            raise EngineQueryError(exc.message, "query") from None

    def _execute(
        self,
        sql: str,
        params: Mapping[str, str],
        *,
        cancel: threading.Event | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        database: str = SHARED_DB,
        fmt: str = "JSONCompact",
    ) -> dict[str, Any]:
        if cancel is not None and cancel.is_set():
            raise EngineQueryCancelled("The query was cancelled before it started")
        marker = f"/* endpoints-local:{uuid.uuid4().hex} */"
        done = threading.Event()
        conn = self._pool.acquire()
        if cancel is not None:
            threading.Thread(
                target=self._watch, args=(marker, cancel, done), daemon=True, name="engine-cancel"
            ).start()
        if on_progress is not None:
            conn.set_progress_callback(_progress_adapter(on_progress))
        started = time.perf_counter()
        broken = True
        try:
            # The current database is per connection: every query says which one it runs in.
            conn.query(f"USE {database}")
            raw = conn.query(f"{marker} {sql}", fmt, params=dict(params)).bytes()
            broken = False
        except Exception as exc:  # chdb.ChdbError / RuntimeError carry ClickHouse's message
            if cancel is not None and cancel.is_set():
                raise EngineQueryCancelled("The query was cancelled") from None
            message = _clean_error(str(exc), marker)
            limit = classify(message)
            if limit is not None:
                raise EngineLimitError(limit) from None
            raise EngineQueryError(message) from None
        finally:
            done.set()
            if on_progress is not None:
                conn.set_progress_callback(None)
            # A failed (or killed) query can leave its partial output in the connection's buffer,
            # which chDB would prepend to the next result there: never reuse such a connection.
            self._pool.release(conn, broken=broken)
        if cancel is not None and cancel.is_set():
            raise EngineQueryCancelled("The query was cancelled")
        if fmt != "JSONCompact":
            return {"text": raw.decode("utf-8", "replace")}
        data = _parse(raw)
        stats = data.setdefault("statistics", {})
        stats.setdefault("elapsed", time.perf_counter() - started)
        if on_progress is not None:
            _safe_call(
                on_progress,
                Progress(
                    int(stats.get("rows_read", 0)),
                    int(stats.get("bytes_read", 0)),
                    int(stats.get("rows_read", 0)),
                    float(stats["elapsed"]),
                    0,
                ),
            )
        return data

    def _watch(self, marker: str, cancel: threading.Event, done: threading.Event) -> None:
        """Kill the marked query as soon as ``cancel`` is set; repeat until it has stopped."""
        # Waiting on ``cancel`` (not polling it) makes the kill immediate; ``done`` is checked
        # between waits so the thread ends shortly after an uncancelled query.
        while not cancel.wait(_WATCH_SECONDS):
            if done.is_set():
                return
        while not done.is_set():
            try:
                self._raw(
                    "KILL QUERY WHERE startsWith(query, {m:String}) ASYNC", {"m": hogql.bind_value(marker)[1]}
                )
            except (EngineQueryError, EngineUnavailable):
                return
            done.wait(_WATCH_SECONDS)  # not registered yet, or still stopping: kill again


def _progress_adapter(on_progress: Callable[[Progress], None]) -> Callable[[dict[str, Any]], None]:
    def callback(payload: dict[str, Any]) -> None:
        _safe_call(
            on_progress,
            Progress(
                rows_read=int(payload.get("read_rows", 0)),
                bytes_read=int(payload.get("read_bytes", 0)),
                estimated_rows_total=int(payload.get("total_rows_to_read", 0)),
                time_elapsed=int(payload.get("elapsed_ns", 0)) / 1e9,
                active_cpu_time=0,
            ),
        )

    return callback


def _safe_call(fn: Callable[[Progress], None], progress: Progress) -> None:
    try:
        fn(progress)
    except Exception:  # a broken progress listener must not break the query
        pass


def _page(limit: int | None, offset: int, has_own_limit: bool) -> tuple[int, int]:
    if limit is None:
        page = MAX_LIMIT if has_own_limit else DEFAULT_LIMIT
    elif isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise EngineQueryError(f"limit must be a positive integer, got {limit!r}", "limit")
    else:
        page = min(limit, MAX_LIMIT)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise EngineQueryError(f"offset must be a non-negative integer, got {offset!r}", "offset")
    return page, offset


def _output(data: dict[str, Any], page: int, offset: int) -> QueryOutput:
    meta = data.get("meta", [])
    rows = data.get("data", [])
    stats = data.get("statistics", {})
    return QueryOutput(
        columns=[m["name"] for m in meta],
        types=[[m["name"], m["type"]] for m in meta],
        rows=rows[:page],
        has_more=len(rows) > page,
        limit=page,
        offset=offset,
        rows_read=int(stats.get("rows_read", 0)),
        bytes_read=int(stats.get("bytes_read", 0)),
        elapsed=float(stats.get("elapsed", 0.0)),
    )


_TSV_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "0": "\0", "b": "\b", "f": "\f"}


def _tsv_unescape(text: str) -> str:
    """A field of ClickHouse's TSV output as plain text (its header's names and types)."""
    return re.sub(r"\\(.)", lambda m: _TSV_ESCAPES.get(m.group(1), m.group(1)), text)


def _param_text(text: str) -> str:
    """``text`` as a String query parameter (ClickHouse reads parameters in its escaped format)."""
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ("\0", "\\0")):
        text = text.replace(raw, escaped)
    return text


def _table_name(database: str, table: str) -> str:
    if not isinstance(table, str) or not _TABLE_RE.match(table):
        raise EngineQueryError(f"Invalid materialized table name {table!r}", "table")
    return f"{database}.`{table}`"
