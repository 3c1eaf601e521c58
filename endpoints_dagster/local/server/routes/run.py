"""``{name}/run/`` by GET (saved defaults, ``?version=``) and POST (a run body)."""

from __future__ import annotations

from starlette.responses import HTMLResponse, Response

from endpoints_dagster.local.server.auth import READ
from endpoints_dagster.local.server.routing import Ctx, api, json_response


async def _run(ctx: Ctx, body: dict | None) -> Response:
    state = ctx.state
    req = state.dialect.parse_run(body, dict(ctx.request.query_params))
    answer = await state.runs.run(ctx.project_id, ctx.request.path_params["name"], req, ctx.key)
    if answer.html is not None:
        return HTMLResponse(answer.html, answer.status)
    return json_response(answer.body, answer.status)


@api(READ)
async def run_get(ctx: Ctx) -> Response:
    return await _run(ctx, None)


@api(READ)
async def run_post(ctx: Ctx) -> Response:
    body = await ctx.json_object(allow_empty=True)
    ctx.state.stats.count_run_fields(body)  # before parsing: refused bodies count too
    return await _run(ctx, body)
