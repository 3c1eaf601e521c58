"""PostHog's query API beside the endpoints: ``query/{id}/`` status (GET) and cancel (DELETE).

Status codes as PostHog's ``QueryViewSet.retrieve``: 202 while queued or running, 200
complete, 400 failed with a message (cancelled included), 500 failed without one, 404
for an id this project never ran (or whose status expired after 10 minutes).
"""

from __future__ import annotations

from starlette.responses import Response

from endpoints_dagster.local import api_errors
from endpoints_dagster.local.server.auth import READ
from endpoints_dagster.local.server.routing import Ctx, api, json_response


@api(READ)
async def query_status(ctx: Ctx) -> Response:
    query_id = ctx.request.path_params["query_id"]
    task = ctx.state.runner.find(ctx.project_id, query_id)
    if task is None:
        raise api_errors.not_found(f"Query {query_id} not found for team {ctx.project_id}")
    params = ctx.request.query_params
    show = params.get("show_progress") == "true" or params.get("showProgress") == "true"
    status = task.status_json(show_progress=show)
    if status["error"]:
        code = 400 if status["error_message"] else 500
    else:
        code = 200 if status["complete"] else 202
    return json_response({"query_status": status}, code)


@api(READ)
async def cancel_query(ctx: Ctx) -> Response:
    message = ctx.state.runner.cancel(ctx.project_id, ctx.request.path_params["query_id"])
    return json_response({"message": message})
