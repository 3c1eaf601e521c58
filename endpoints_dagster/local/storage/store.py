"""Durable state of the local server, in SQLite (stdlib) under ``--data``.

Endpoints, versions, API keys (hashes only), materializations, cache entries and the
execution log. The database runs in WAL mode with autocommit: every write is its own
committed transaction (or an explicit ``BEGIN IMMEDIATE`` block for multi-row writes),
so a SIGKILL loses nothing that was answered. One connection guarded by a lock serves
the event loop and the worker threads; every statement is short.

Example::

    store = Store(Path("data") / "state.sqlite3")
    endpoint, version = store.create_endpoint(1, "daily", query={...}, description="",
                                              is_active=True, cache_age_seconds=None, created_by=1)
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from endpoints_dagster.local import timefmt
from endpoints_dagster.local.storage.schema import ADDED_COLUMNS, SCHEMA


class DuplicateName(Exception):
    """An endpoint with that name already exists in the project."""


@dataclass(frozen=True)
class KeyRow:
    id: int
    key_hash: str
    scopes: frozenset[str]
    projects: frozenset[int]
    user_id: int


@dataclass(frozen=True)
class EndpointRow:
    id: str
    project_id: int
    name: str
    description: str
    is_active: bool
    cache_age_seconds: float | None
    current_version: int
    created_at: float
    updated_at: float
    created_by: int | None
    last_executed_at: float | None
    tags: tuple[str, ...] = ()
    derived_from_insight: str | None = None


@dataclass(frozen=True)
class VersionRow:
    id: str
    endpoint_id: str
    version: int
    query: dict[str, Any]
    is_active: bool
    created_at: float
    created_by: int | None
    description: str | None = None  # None: the endpoint's description (versions made before it was kept)


@dataclass(frozen=True)
class MaterializationRow:
    endpoint_id: str
    version: int
    table_name: str
    status: str
    last_materialized_at: float | None
    error: str | None
    sync_frequency: str


_ENDPOINT_COLS = (
    "id, project_id, name, description, is_active, cache_age_seconds, current_version, "
    "created_at, updated_at, created_by, last_executed_at, tags, derived_from_insight"
)
_VERSION_COLS = "id, endpoint_id, version, query, is_active, created_at, created_by, description"
_EXECUTION_COLS = (
    "id",
    "project_id",
    "endpoint",
    "client_query_id",
    "version",
    "materialized",
    "query_async",
    "api_key_id",
    "via_api_key",
    "submitted_at",
    "started_at",
    "finished_at",
    "status",
    "error",
)
_MAT_COLS = "endpoint_id, version, table_name, status, last_materialized_at, error, sync_frequency"


def _endpoint(row: tuple) -> EndpointRow:
    return EndpointRow(
        id=row[0],
        project_id=row[1],
        name=row[2],
        description=row[3],
        is_active=bool(row[4]),
        cache_age_seconds=row[5],
        current_version=row[6],
        created_at=row[7],
        updated_at=row[8],
        created_by=row[9],
        last_executed_at=row[10],
        tags=tuple(orjson.loads(row[11])) if row[11] else (),
        derived_from_insight=row[12],
    )


def _version(row: tuple) -> VersionRow:
    return VersionRow(
        id=row[0],
        endpoint_id=row[1],
        version=row[2],
        query=orjson.loads(row[3]),
        is_active=bool(row[4]),
        created_at=row[5],
        created_by=row[6],
        description=row[7],
    )


#: SQLite integers are signed 64-bit; a larger number from a URL cannot name any row, and
#: binding it would raise OverflowError (a 500). Lookups answer "none" for it instead.
_SQLITE_INT_MIN, _SQLITE_INT_MAX = -(2**63), 2**63 - 1


def _fits(number: int) -> bool:
    return _SQLITE_INT_MIN <= number <= _SQLITE_INT_MAX


class Store:
    """All SQLite access. Thread-safe; every public method is one committed unit."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process kill (only an OS crash could lose the tail).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        with self._lock:
            self._db.executescript(SCHEMA)
            for table, column, kind in ADDED_COLUMNS:
                if column not in {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _all_where(self, sql: str, filters: dict[str, Any], order_by: str = "") -> list[tuple]:
        """Rows of `sql` (which ends in a WHERE clause) narrowed by `column = value` for each
        filter whose value is not None."""
        given = {column: value for column, value in filters.items() if value is not None}
        sql += "".join(f" AND {column} = ?" for column in given)
        return self._all(sql + (f" ORDER BY {order_by}" if order_by else ""), tuple(given.values()))

    def _all(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _one(self, sql: str, params: tuple = ()) -> tuple | None:
        with self._lock:
            return self._db.execute(sql, params).fetchone()

    def _exec(self, sql: str, params: tuple = ()) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    # -- API keys ---------------------------------------------------------------------------
    def drop_keys_not_starting(self, prefix: str) -> int:
        """Delete key rows whose hash is not of the current scheme (their keys were not given again)."""
        with self._tx() as db:
            sql = "DELETE FROM api_keys WHERE substr(key_hash, 1, ?) != ?"
            return db.execute(sql, (len(prefix), prefix)).rowcount

    def rekey(self, old_hash: str, new_hash: str) -> None:
        """Replace a key's stored hash (when the hashing scheme changes); a missing row is fine."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM api_keys WHERE key_hash = ?", (new_hash,)).fetchone() is None:
                db.execute("UPDATE api_keys SET key_hash = ? WHERE key_hash = ?", (new_hash, old_hash))

    def upsert_key(self, key_hash: str, scopes: frozenset[str], projects: frozenset[int]) -> KeyRow:
        """Create or update a key by hash; a new key gets the next user id."""
        scopes_s = ",".join(sorted(scopes))
        projects_s = ",".join(str(p) for p in sorted(projects))
        with self._tx() as db:
            row = db.execute("SELECT id, user_id FROM api_keys WHERE key_hash = ?", (key_hash,)).fetchone()
            if row is None:
                (max_user,) = db.execute("SELECT COALESCE(MAX(user_id), 0) FROM api_keys").fetchone()
                cur = db.execute(
                    "INSERT INTO api_keys (key_hash, scopes, projects, user_id, created_at) VALUES (?, ?, ?, ?, ?)",
                    (key_hash, scopes_s, projects_s, max_user + 1, timefmt.now()),
                )
                key_id, user_id = int(cur.lastrowid or 0), max_user + 1
            else:
                key_id, user_id = row
                db.execute(
                    "UPDATE api_keys SET scopes = ?, projects = ? WHERE id = ?",
                    (scopes_s, projects_s, key_id),
                )
        return KeyRow(key_id, key_hash, scopes, projects, user_id)

    def all_keys(self) -> list[KeyRow]:
        rows = self._all("SELECT id, key_hash, scopes, projects, user_id FROM api_keys")
        return [
            KeyRow(
                r[0],
                r[1],
                frozenset(s for s in r[2].split(",") if s),
                frozenset(int(p) for p in r[3].split(",") if p),
                r[4],
            )
            for r in rows
        ]

    def endpoint_projects(self) -> set[int]:
        return {r[0] for r in self._all("SELECT DISTINCT project_id FROM endpoints WHERE deleted_at IS NULL")}

    # -- endpoints and versions -------------------------------------------------------------
    def create_endpoint(
        self,
        project_id: int,
        name: str,
        *,
        query: dict[str, Any],
        description: str,
        is_active: bool,
        cache_age_seconds: float | None,
        created_by: int | None,
    ) -> tuple[EndpointRow, VersionRow]:
        ts = timefmt.now()
        endpoint_id, version_id = str(uuid.uuid4()), str(uuid.uuid4())
        try:
            with self._tx() as db:
                db.execute(
                    f"INSERT INTO endpoints ({_ENDPOINT_COLS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, NULL, NULL, NULL)",
                    (
                        endpoint_id,
                        project_id,
                        name,
                        description,
                        int(is_active),
                        cache_age_seconds,
                        ts,
                        ts,
                        created_by,
                    ),
                )
                db.execute(
                    f"INSERT INTO versions ({_VERSION_COLS}) VALUES (?, ?, 1, ?, 1, ?, ?, NULL)",
                    (version_id, endpoint_id, orjson.dumps(query).decode(), ts, created_by),
                )
        except sqlite3.IntegrityError as exc:
            raise DuplicateName(name) from exc
        endpoint = self.get_endpoint(project_id, name)
        version = self.get_version(endpoint_id, 1)
        assert endpoint is not None and version is not None
        return endpoint, version

    def get_endpoint(self, project_id: int, name: str) -> EndpointRow | None:
        row = self._one(
            f"SELECT {_ENDPOINT_COLS} FROM endpoints WHERE project_id = ? AND name = ? AND deleted_at IS NULL",
            (project_id, name),
        )
        return _endpoint(row) if row else None

    def get_endpoint_by_id(self, endpoint_id: str) -> EndpointRow | None:
        row = self._one(f"SELECT {_ENDPOINT_COLS} FROM endpoints WHERE id = ?", (endpoint_id,))
        return _endpoint(row) if row else None

    def list_endpoints(
        self, project_id: int, *, is_active: bool | None = None, created_by: int | None = None
    ) -> list[EndpointRow]:
        if created_by is not None and not _fits(created_by):
            return []
        rows = self._all_where(
            f"SELECT {_ENDPOINT_COLS} FROM endpoints WHERE deleted_at IS NULL",
            {
                "project_id": project_id,
                "is_active": None if is_active is None else int(is_active),
                "created_by": created_by,
            },
            order_by="created_at DESC, name",
        )
        return [_endpoint(r) for r in rows]

    def update_endpoint(self, endpoint_id: str, **fields: Any) -> None:
        """Set endpoint-level fields (description, is_active, cache_age_seconds)."""
        allowed = {"description", "is_active", "cache_age_seconds"}
        assert set(fields) <= allowed, fields
        sets = ", ".join(f"{k} = ?" for k in fields)
        values = [int(v) if isinstance(v, bool) else v for v in fields.values()]
        self._exec(
            f"UPDATE endpoints SET {sets + ', ' if sets else ''}updated_at = ? WHERE id = ?",
            (*values, timefmt.now(), endpoint_id),
        )

    def add_version(
        self, endpoint_id: str, query: dict[str, Any], created_by: int | None, description: str | None = None
    ) -> VersionRow:
        """A new current version; ``description`` None means "the endpoint's" (see VersionRow)."""
        ts = timefmt.now()
        with self._tx() as db:
            (latest,) = db.execute(
                "SELECT MAX(version) FROM versions WHERE endpoint_id = ?", (endpoint_id,)
            ).fetchone()
            number = int(latest or 0) + 1
            db.execute(
                f"INSERT INTO versions ({_VERSION_COLS}) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                (
                    str(uuid.uuid4()),
                    endpoint_id,
                    number,
                    orjson.dumps(query).decode(),
                    ts,
                    created_by,
                    description,
                ),
            )
            db.execute(
                "UPDATE endpoints SET current_version = ?, updated_at = ? WHERE id = ?",
                (number, ts, endpoint_id),
            )
        version = self.get_version(endpoint_id, number)
        assert version is not None
        return version

    def get_version(self, endpoint_id: str, number: int) -> VersionRow | None:
        if not _fits(number):
            return None
        row = self._one(
            f"SELECT {_VERSION_COLS} FROM versions WHERE endpoint_id = ? AND version = ?",
            (endpoint_id, number),
        )
        return _version(row) if row else None

    def list_versions(self, endpoint_id: str) -> list[VersionRow]:
        rows = self._all(
            f"SELECT {_VERSION_COLS} FROM versions WHERE endpoint_id = ? ORDER BY version DESC",
            (endpoint_id,),
        )
        return [_version(r) for r in rows]

    def count_versions(self, endpoint_id: str) -> int:
        row = self._one("SELECT COUNT(*) FROM versions WHERE endpoint_id = ?", (endpoint_id,))
        return int(row[0]) if row else 0

    def set_version_active(self, endpoint_id: str, number: int, is_active: bool) -> None:
        self._exec(
            "UPDATE versions SET is_active = ? WHERE endpoint_id = ? AND version = ?",
            (int(is_active), endpoint_id, number),
        )

    def set_version_description(self, endpoint_id: str, number: int, description: str | None) -> None:
        """Give one version its own description (None: back to the endpoint's)."""
        self._exec(
            "UPDATE versions SET description = ? WHERE endpoint_id = ? AND version = ?",
            (description, endpoint_id, number),
        )

    def set_endpoint_labels(
        self,
        endpoint_id: str,
        *,
        tags: tuple[str, ...] | None = None,
        derived_from_insight: str | None = None,
    ) -> None:
        """Set the fields only PostHog's current API has: ``tags`` (None: unchanged) and the insight."""
        if tags is not None:
            self._exec(
                "UPDATE endpoints SET tags = ? WHERE id = ?", (orjson.dumps(list(tags)).decode(), endpoint_id)
            )
        if derived_from_insight is not None:
            self._exec(
                "UPDATE endpoints SET derived_from_insight = ? WHERE id = ?",
                (derived_from_insight, endpoint_id),
            )

    def delete_endpoint(self, endpoint_id: str) -> None:
        """Hard delete; versions, materialization rows and cache entries go with it (cascade)."""
        self._exec("DELETE FROM endpoints WHERE id = ?", (endpoint_id,))

    def soft_delete_endpoint(self, endpoint_id: str) -> None:
        """Hide an endpoint from every route and free its name (PostHog's soft delete).

        The row keeps its versions and history; its name gets a suffix no live name can have
        (``#`` is outside the name rule), so ``UNIQUE (project_id, name)`` lets the name be reused.
        """
        self._exec(
            "UPDATE endpoints SET deleted_at = ?, name = name || '#deleted-' || id WHERE id = ? AND deleted_at IS NULL",
            (timefmt.now(), endpoint_id),
        )

    def touch_last_executed(self, endpoint_id: str, ts: float, granularity_seconds: float) -> None:
        """Record an API-key execution; with a granularity, only when the last one is older."""
        self._exec(
            "UPDATE endpoints SET last_executed_at = ? WHERE id = ? AND "
            "(last_executed_at IS NULL OR last_executed_at <= ? - ?)",
            (ts, endpoint_id, ts, granularity_seconds),
        )

    # -- materializations -------------------------------------------------------------------
    def put_materialization(self, row: MaterializationRow) -> None:
        self._exec(
            f"INSERT OR REPLACE INTO materializations ({_MAT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                row.endpoint_id,
                row.version,
                row.table_name,
                row.status,
                row.last_materialized_at,
                row.error,
                row.sync_frequency,
            ),
        )

    def update_materialization(
        self,
        endpoint_id: str,
        version: int,
        *,
        status: str,
        error: str | None,
        last_materialized_at: float | None,
    ) -> bool:
        """Update a build's outcome; False when the row is gone (turned off or deleted meanwhile)."""
        return (
            self._exec(
                "UPDATE materializations SET status = ?, error = ?, "
                "last_materialized_at = COALESCE(?, last_materialized_at) WHERE endpoint_id = ? AND version = ?",
                (status, error, last_materialized_at, endpoint_id, version),
            )
            > 0
        )

    def get_materialization(self, endpoint_id: str, version: int) -> MaterializationRow | None:
        row = self._one(
            f"SELECT {_MAT_COLS} FROM materializations WHERE endpoint_id = ? AND version = ?",
            (endpoint_id, version),
        )
        return MaterializationRow(*row) if row else None

    def list_materializations(
        self, endpoint_id: str | None = None, status: str | None = None
    ) -> list[MaterializationRow]:
        rows = self._all_where(
            f"SELECT {_MAT_COLS} FROM materializations WHERE 1 = 1",
            {"endpoint_id": endpoint_id, "status": status},
        )
        return [MaterializationRow(*r) for r in rows]

    def delete_materialization(self, endpoint_id: str, version: int) -> None:
        self._exec(
            "DELETE FROM materializations WHERE endpoint_id = ? AND version = ?", (endpoint_id, version)
        )

    # -- cache ------------------------------------------------------------------------------
    def cache_get(self, cache_key: str) -> tuple[bytes, float] | None:
        row = self._one("SELECT payload, last_refresh FROM cache_entries WHERE cache_key = ?", (cache_key,))
        return (bytes(row[0]), float(row[1])) if row else None

    def cache_put(
        self, cache_key: str, project_id: int, endpoint_id: str, payload: bytes, last_refresh: float
    ) -> None:
        # A query may finish after its endpoint was deleted: its result is still answered, but
        # not cached (a plain insert would break the foreign key and fail the query).
        self._exec(
            "INSERT OR REPLACE INTO cache_entries (cache_key, project_id, endpoint_id, payload, last_refresh) "
            "SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM endpoints WHERE id = ? AND deleted_at IS NULL)",
            (cache_key, project_id, endpoint_id, payload, last_refresh, endpoint_id),
        )

    def cache_prune(self, older_than: float) -> int:
        return self._exec("DELETE FROM cache_entries WHERE last_refresh < ?", (older_than,))

    def cache_clear(self, endpoint_id: str | None = None) -> int:
        if endpoint_id is None:
            return self._exec("DELETE FROM cache_entries")
        return self._exec("DELETE FROM cache_entries WHERE endpoint_id = ?", (endpoint_id,))

    # -- executions -------------------------------------------------------------------------
    def insert_execution(
        self,
        *,
        project_id: int,
        endpoint_id: str,
        endpoint: str,
        client_query_id: str,
        version: int,
        materialized: bool,
        query_async: bool,
        api_key_id: int | None,
        via_api_key: bool,
        submitted_at: float,
    ) -> int:
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO executions (project_id, endpoint_id, endpoint, client_query_id, version, materialized, "
                "query_async, api_key_id, via_api_key, submitted_at, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued')",
                (
                    project_id,
                    endpoint_id,
                    endpoint,
                    client_query_id,
                    version,
                    int(materialized),
                    int(query_async),
                    api_key_id,
                    int(via_api_key),
                    submitted_at,
                ),
            )
            return int(cur.lastrowid or 0)

    def execution_started(self, execution_id: int, ts: float) -> None:
        self._exec(
            "UPDATE executions SET status = 'running', started_at = ? WHERE id = ?", (ts, execution_id)
        )

    def execution_finished(self, execution_id: int, ts: float, status: str, error: str | None = None) -> None:
        self._exec(
            "UPDATE executions SET status = ?, finished_at = ?, error = ? WHERE id = ?",
            (status, ts, error, execution_id),
        )

    def executions(
        self, project_id: int | None = None, client_query_id: str | None = None
    ) -> list[dict[str, Any]]:
        rows = self._all_where(
            f"SELECT {', '.join(_EXECUTION_COLS)} FROM executions WHERE 1 = 1",
            {"project_id": project_id, "client_query_id": client_query_id},
            order_by="id",
        )
        return [dict(zip(_EXECUTION_COLS, r, strict=True)) for r in rows]

    def interrupt_unfinished(self, ts: float) -> int:
        """At startup: executions a previous process left running can never finish."""
        return self._exec(
            "UPDATE executions SET status = 'failed', finished_at = ?, error = 'server restarted' "
            "WHERE status IN ('queued', 'running')",
            (ts,),
        )
