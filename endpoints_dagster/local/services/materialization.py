"""Materialization: building an endpoint version's result into a chDB table, in the background.

``is_materialized: true`` puts a row in state ``Running`` and queues a build; the build
runs the version's query with its saved variable values into
``mat_p{project}_{name}_v{version}`` and ends ``Completed`` (with
``last_materialized_at``) or ``Failed`` (with the engine's message). Turning it off,
deactivating, changing the query or deleting the endpoint drops the table. A build the
previous process did not finish is queued again at startup.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from endpoints_dagster.local import timefmt
from endpoints_dagster.local.services.stored_query import saved_variables
from endpoints_dagster.local.storage.store import EndpointRow, MaterializationRow, Store, VersionRow

log = logging.getLogger("endpoints_local.materialize")


def table_name(project_id: int, name: str, version: int) -> str:
    return f"mat_p{project_id}_{name}_v{version}"


def _project_of(table: str) -> int:
    """The project a table name belongs to (``table_name``'s ``p{project}``): its database."""
    return int(table.split("_", 2)[1][1:])


class Materializer:
    def __init__(self, store: Store, engine: Any, *, workers: int = 1) -> None:
        self._store = store
        self._engine = engine
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="materialize")

    def enable(self, endpoint: EndpointRow, version: VersionRow, sync_frequency: str = "24hour") -> None:
        """(Re)build the table for ``version``; the status is ``Running`` until it ends."""
        table = table_name(endpoint.project_id, endpoint.name, version.version)
        self._store.put_materialization(
            MaterializationRow(endpoint.id, version.version, table, "Running", None, None, sync_frequency)
        )
        self._submit(endpoint.id, version.version, table, version.query)

    def disable(self, endpoint_id: str, version: int) -> None:
        row = self._store.get_materialization(endpoint_id, version)
        if row is None:
            return
        self._store.delete_materialization(endpoint_id, version)
        self._drop(row.table_name)

    def disable_all(self, endpoint_id: str) -> None:
        for row in self._store.list_materializations(endpoint_id=endpoint_id):
            self.disable(endpoint_id, row.version)

    def resume(self) -> int:
        """Queue again the builds a killed process left ``Running``."""
        rows = self._store.list_materializations(status="Running")
        for row in rows:
            endpoint = self._store.get_endpoint_by_id(row.endpoint_id)
            version = self._store.get_version(row.endpoint_id, row.version)
            if endpoint is None or version is None:
                self._store.delete_materialization(row.endpoint_id, row.version)
                continue
            self._submit(row.endpoint_id, row.version, row.table_name, version.query)
        return len(rows)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _submit(self, endpoint_id: str, version: int, table: str, query: dict[str, Any]) -> None:
        self._pool.submit(self._build, endpoint_id, version, table, query)

    def _build(self, endpoint_id: str, version: int, table: str, query: dict[str, Any]) -> None:
        values = {code: spec.get("value") for code, spec in saved_variables(query).items()}
        try:
            self._engine.materialize(table, query["query"], values, project_id=_project_of(table))
        except Exception as exc:  # the engine's message is the status's error, as PostHog's latest_error
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            log.warning("materialization of %s failed: %s", table, message)
            self._store.update_materialization(
                endpoint_id, version, status="Failed", error=message, last_materialized_at=None
            )
            return
        still_wanted = self._store.update_materialization(
            endpoint_id, version, status="Completed", error=None, last_materialized_at=timefmt.now()
        )
        if not still_wanted:  # turned off or deleted while building
            self._drop(table)

    def _drop(self, table: str) -> None:
        try:
            self._engine.drop_table(table, project_id=_project_of(table))
        except Exception:
            log.exception("could not drop materialized table %s", table)
