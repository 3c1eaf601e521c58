"""The control API for tests and benchmarks, under ``/_local/``: the admin token only (``admin.py``).

* ``GET /_local/knobs`` · ``POST /_local/knobs`` (partial update, answers the knobs) ·
  ``POST /_local/knobs/reset`` (back to the command-line values)
* ``GET /_local/stats`` · ``POST /_local/stats/reset``
* ``GET /_local/executions?client_query_id=&project_id=`` (the durable log in SQLite)
* ``POST /_local/cache/clear`` (every cached run result)
* ``GET /_local/materialized_tables`` (the ``mat_p*`` tables that exist in the engine)

Faults are never injected here, so a test can always reach it.
"""

from __future__ import annotations

from starlette.responses import Response

from endpoints_dagster.local import api_errors
from endpoints_dagster.local.server.admin import admin_only
from endpoints_dagster.local.server.routing import Ctx, json_response


@admin_only
async def get_knobs(ctx: Ctx) -> Response:
    return json_response(ctx.state.knobs.current.to_json())


@admin_only
async def set_knobs(ctx: Ctx) -> Response:
    body = await ctx.json_object()
    try:
        knobs = ctx.state.knobs.update(body)
    except ValueError as exc:
        raise api_errors.validation_error(str(exc)) from None
    if "rate_limit_per_minute" in body:
        ctx.state.rate_limiter.reset()
    return json_response(knobs.to_json())


@admin_only
async def reset_knobs(ctx: Ctx) -> Response:
    ctx.state.rate_limiter.reset()
    return json_response(ctx.state.knobs.reset().to_json())


@admin_only
async def get_stats(ctx: Ctx) -> Response:
    return json_response(ctx.state.stats.snapshot())


@admin_only
async def reset_stats(ctx: Ctx) -> Response:
    ctx.state.stats.reset()
    return json_response(ctx.state.stats.snapshot())


@admin_only
async def executions(ctx: Ctx) -> Response:
    params = ctx.request.query_params
    project = params.get("project_id")
    rows = ctx.state.store.executions(
        project_id=int(project) if project and project.isdigit() and len(project) < 19 else None,
        client_query_id=params.get("client_query_id") or None,
    )
    return json_response({"results": rows})


@admin_only
async def clear_cache(ctx: Ctx) -> Response:
    return json_response({"deleted": ctx.state.store.cache_clear()})


@admin_only
async def materialized_tables(ctx: Ctx) -> Response:
    return json_response({"tables": ctx.state.binding.engine.materialized_tables()})
