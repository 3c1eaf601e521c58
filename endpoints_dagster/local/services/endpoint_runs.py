"""One run of an endpoint: version, variables, cache, refresh mode, then the runner.

Checks run in PostHog's order: the endpoint (404 when missing or inactive, for every
version), the version (404 with ``current_version`` / 400 inactive), the dialect's
refusals (``Dialect.check_run``: ``query_override``; on the current dialect also
``filters_override`` and ``direct``), then variables (400 naming unknown ones; on the current dialect
also those a materialized version needs and did not get). Variable values resolve as
``variables_values[code_name]`` > ``variables_override[variableId].value`` > saved value.

Refresh modes ("fresh" = younger than ``cache_age_seconds``; unset, 6 h, or the dialect's default):
``blocking`` fresh cache else compute · ``force_blocking`` compute · ``async`` fresh
cache else 202 and compute in the background · ``lazy_async`` the same accepting 2x the
age · ``force_async`` always 202 · ``force_cache`` any cached result, else 200 with
``results: null`` (never computes).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from endpoints_dagster.local import api_errors, timefmt
from endpoints_dagster.local.dialects.documented import Dialect, RunRequest
from endpoints_dagster.local.server.faults import KnobsHolder
from endpoints_dagster.local.services.executions import (
    ExecutionSpec,
    QueryCancelled,
    QueryFailed,
    QueryTask,
    Runner,
    progress_from_engine,
)
from endpoints_dagster.local.services.project_slots import ProjectBusy
from endpoints_dagster.local.services.result_cache import ResultCache, cache_key
from endpoints_dagster.local.services.stored_query import saved_variables
from endpoints_dagster.local.storage.store import EndpointRow, KeyRow, Store, VersionRow

SYNC_MODES = ("blocking", "force_blocking")
ASYNC_MODES = ("async", "lazy_async", "force_async")


@dataclass
class RunAnswer:
    status: int
    body: dict[str, Any]
    html: str | None = None  # a proxy's page instead of JSON (the gateway's 504)


# What PostHog's load balancer answers when the app has not answered in time (not JSON).
GATEWAY_TIMEOUT_HTML = (
    "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
    "<center><h1>504 Gateway Time-out</h1></center>\r\n</body>\r\n</html>\r\n"
)


@dataclass
class EngineBinding:
    """The engine and its two exception types (the real engine's, or a test double's)."""

    engine: Any
    query_error: type[BaseException]
    cancelled_error: type[BaseException]


class RunService:
    def __init__(
        self,
        store: Store,
        cache: ResultCache,
        runner: Runner,
        binding: EngineBinding,
        dialect: Dialect,
        knobs: KnobsHolder,
    ) -> None:
        self._knobs = knobs
        self._store = store
        self._cache = cache
        self._runner = runner
        self._binding = binding
        self._dialect = dialect

    # -- validation --------------------------------------------------------------------------
    def _endpoint(self, project_id: int, name: str) -> EndpointRow:
        row = self._store.get_endpoint(project_id, name)
        if row is None or not row.is_active:
            raise api_errors.not_found()
        return row

    def _version(self, row: EndpointRow, number: int | None) -> VersionRow:
        version = self._store.get_version(row.id, number if number is not None else row.current_version)
        if version is None:
            raise api_errors.PlainError(
                404,
                {
                    "error": f"Version {number} not found for endpoint '{row.name}'",
                    "current_version": row.current_version,
                },
            )
        if not version.is_active:
            raise api_errors.validation_error(
                f"Version {version.version} is inactive and cannot be executed.",
                self._dialect.inactive_version_attr,
            )
        return version

    @staticmethod
    def resolve_variables(
        version: VersionRow, req: RunRequest, attr: str = "variables_values"
    ) -> dict[str, Any]:
        """Saved values overridden by the request's; ``attr`` is the field an unknown name is blamed on."""
        saved = saved_variables(version.query)
        by_id = version.query.get("variables") or {}
        unknown_ids = sorted(v for v in req.variables_override if v not in by_id)
        if unknown_ids:
            raise api_errors.validation_error(
                f"Unknown variable(s): {', '.join(unknown_ids)}", "variables_override"
            )
        unknown = sorted(k for k in req.variables_values if k not in saved)
        if unknown:
            raise api_errors.validation_error(f"Unknown variable(s): {', '.join(unknown)}", attr)
        values = {code: spec.get("value") for code, spec in saved.items()}
        for variable_id, spec in req.variables_override.items():
            if "value" in spec:
                values[by_id[variable_id]["code_name"]] = spec["value"]
        values.update(req.variables_values)
        return values

    # -- the run -----------------------------------------------------------------------------
    async def run(self, project_id: int, name: str, req: RunRequest, key: KeyRow) -> RunAnswer:
        cut_at = self._gateway_deadline()  # the gateway's clock starts with the request
        row = self._endpoint(project_id, name)
        version = self._version(row, req.version)
        mat = self._store.get_materialization(row.id, version.version)
        self._dialect.check_run(req, materialized=mat is not None)
        values = self.resolve_variables(version, req, self._dialect.variables_attr)
        saved = {code: spec.get("value") for code, spec in saved_variables(version.query).items()}
        if mat is not None:
            # The same "materialized" as for refresh=direct: from the moment it is switched on.
            self._dialect.check_required_variables(set(saved), req.variables_values)

        if req.client_query_id is not None and req.refresh != "force_cache":  # force_cache never waits
            existing = self._runner.find(project_id, req.client_query_id)
            if existing is not None and existing.reusable:
                if existing.spec.endpoint_id != row.id:
                    raise api_errors.validation_error(
                        f"client_query_id '{req.client_query_id}' is already used by a run of endpoint "
                        f"'{existing.spec.endpoint}'; send a new id.",
                        "client_query_id",
                    )
                return await self._answer_task(existing, wait=req.refresh in SYNC_MODES, cut_at=cut_at)

        use_mat = (
            mat is not None
            and mat.status == "Completed"
            and not req.filters_override
            and values == saved
            and not req.direct
        )
        key_ = cache_key(
            project_id=project_id,
            endpoint_id=row.id,
            version=version.version,
            variables=values,
            filters=req.filters_override,
            limit=req.limit,
            offset=req.offset,
            materialized=use_mat,
        )
        if req.refresh not in ("force_blocking", "force_async"):
            hit = self._cache.get(key_)
            factor = 2.0 if req.refresh == "lazy_async" else 1.0
            clock_offset = self._knobs.current.clock_offset_seconds
            built_at = mat.last_materialized_at if use_mat and mat else None
            if hit is not None and req.refresh != "force_cache" and built_at and hit[1] < built_at:
                hit = None  # older than the table it was read from (PostHog's _is_cache_stale)
            if hit is not None and (
                req.refresh == "force_cache"
                or self._cache.is_fresh(
                    hit[1], self._cache_age(row), factor=factor, now=timefmt.now() + clock_offset
                )
            ):
                body = self._dialect.run_result_json(
                    hit[0], name=row.name, version=version, is_cached=True, req=req
                )
                return RunAnswer(200, body)
        if req.refresh == "force_cache":
            body = self._dialect.cache_miss_json(
                key_, name=row.name, version=version, limit=req.limit, offset=req.offset
            )
            return RunAnswer(200, body)

        spec = ExecutionSpec(
            project_id=project_id,
            endpoint_id=row.id,
            endpoint=row.name,
            version=version.version,
            client_query_id=req.client_query_id or uuid.uuid4().hex,
            materialized=use_mat,
            query_async=req.refresh in ASYNC_MODES,
            api_key_id=key.id,
            compute=self._compute_fn(
                row,
                version,
                values,
                req,
                key_,
                mat.table_name if use_mat and mat else None,
                mat.last_materialized_at if use_mat and mat else None,
            ),
        )
        try:
            task, created = self._runner.get_or_submit(spec)
        except ProjectBusy:
            # PostHog answers a team over its concurrent-query limit with a 429 throttle.
            raise api_errors.throttled(1) from None
        if created and spec.query_async:
            return RunAnswer(202, self._dialect.async_json(task.initial_status))
        return await self._answer_task(task, wait=not spec.query_async, cut_at=cut_at)

    def _cache_age(self, row: EndpointRow) -> float | None:
        """The endpoint's cache lifetime; unset, the dialect's default (None: the cache's own 6 h)."""
        if row.cache_age_seconds is not None:
            return row.cache_age_seconds
        return self._dialect.default_cache_age_seconds

    def _gateway_deadline(self) -> float | None:
        """When the imitated gateway cuts this request (current dialect, knob set), else None."""
        limit = self._knobs.current.gateway_timeout_seconds
        if limit is None or self._dialect.name != "current":
            return None
        return time.monotonic() + limit

    async def _answer_task(self, task: QueryTask, *, wait: bool, cut_at: float | None = None) -> RunAnswer:
        if wait:
            timeout = None if cut_at is None else max(0.0, cut_at - time.monotonic())
            if not await self._runner.wait(task, timeout):
                # The gateway gives up; the query goes on in the engine, as PostHog's does.
                return RunAnswer(504, {}, html=GATEWAY_TIMEOUT_HTML)
        if task.state == "completed" and task.result is not None:
            return RunAnswer(200, task.result)
        if not wait and not task.finished:
            return RunAnswer(202, self._dialect.async_json(task.status_json()))
        if task.state == "cancelled":
            raise api_errors.validation_error(task.error_message or "Query cancelled", code="query_cancelled")
        if task.error_message and task.error_status != 400:
            # PostHog's own statuses for a query stopped at its limits (504 time, 513 memory).
            raise api_errors.APIError(task.error_status, "server_error", task.error_code, task.error_message)
        if task.error_message:
            raise api_errors.validation_error(task.error_message, task.error_attr, code=task.error_code)
        raise api_errors.server_error()

    def _compute_fn(
        self,
        row: EndpointRow,
        version: VersionRow,
        values: dict[str, Any],
        req: RunRequest,
        key_: str,
        table: str | None,
        materialized_at: float | None,
    ):
        binding, dialect, cache = self._binding, self._dialect, self._cache

        def compute(cancel, report) -> dict[str, Any]:
            engine = binding.engine
            try:
                if table is not None:
                    out = engine.run_materialized(
                        table, limit=req.limit, offset=req.offset or 0, project_id=row.project_id
                    )
                else:
                    out = engine.run(
                        version.query["query"],
                        variables=values,
                        filters=req.filters_override,
                        limit=req.limit,
                        offset=req.offset or 0,
                        cancel=cancel,
                        on_progress=lambda p: report(progress_from_engine(p)),
                        project_id=row.project_id,
                    )
            except binding.cancelled_error:
                raise QueryCancelled() from None
            except binding.query_error as exc:
                limit = getattr(exc, "limit", None)  # stopped at a time/memory/rows limit
                raise QueryFailed(
                    getattr(exc, "message", None) or str(exc),
                    getattr(exc, "attr", None),
                    status=getattr(limit, "status", 400),
                    code=getattr(limit, "code", "query_error"),
                ) from None
            if cancel.is_set():
                raise QueryCancelled()
            core = {
                "results": out.rows,
                "columns": out.columns,
                "types": out.types,
                "hasMore": out.has_more,
                "limit": out.limit,
                "offset": out.offset,
                "cache_key": key_,
                "last_refresh": timefmt.now(),
                "endpoint_materialized": table is not None,
                "endpoint_materialized_at": materialized_at,
            }
            cache.put(key_, project_id=row.project_id, endpoint_id=row.id, core=core)
            return dialect.run_result_json(core, name=row.name, version=version, is_cached=False, req=req)

        return compute
