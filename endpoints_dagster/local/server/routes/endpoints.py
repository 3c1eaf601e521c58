"""Endpoint CRUD, versions and ``last_execution_times`` routes (relative to the base)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from endpoints_dagster.local import api_errors, timefmt
from endpoints_dagster.local.dialects.current_checks import parse_target_version
from endpoints_dagster.local.dialects.documented import NAME_RE, Page
from endpoints_dagster.local.server.auth import READ, WRITE
from endpoints_dagster.local.server.routing import Ctx, api, json_response
from endpoints_dagster.local.storage.store import EndpointRow

SIX_MONTHS_SECONDS = 183 * 86400


def _bool_param(ctx: Ctx, name: str) -> bool | None:
    raw = ctx.request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise api_errors.validation_error(f"{name} must be true or false.", name)


@api(READ)
async def list_endpoints(ctx: Ctx) -> Response:
    created_by_raw = ctx.request.query_params.get("created_by")
    try:
        created_by = int(created_by_raw) if created_by_raw else None
    except ValueError:
        raise api_errors.validation_error("created_by must be a user id (integer).", "created_by") from None
    state = ctx.state
    rows = state.store.list_endpoints(
        ctx.project_id, is_active=_bool_param(ctx, "is_active"), created_by=created_by
    )
    page = _page(ctx)
    items = [state.dialect.endpoint_json(state.catalog.view(r), ctx.base_url) for r in page.slice(rows)]
    return json_response(state.dialect.list_json(items, count=len(rows), page=page))


def _page(ctx: Ctx) -> Page:
    return ctx.state.dialect.page(
        list(ctx.request.query_params.multi_items()), ctx.url, ctx.state.knobs.current.list_page_size
    )


def _version_number(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise api_errors.validation_error(f"Invalid version parameter: {raw}", "version") from None


def _endpoint_fields(ctx: Ctx, body: dict[str, Any], *, create: bool) -> dict[str, Any]:
    """The dialect's reading of an endpoint body, with its refusals of the query to be saved."""
    state = ctx.state
    fields = state.dialect.parse_endpoint_body(body, create=create)
    if "query" in fields:
        state.dialect.check_saved_query(fields["query"], state.catalog.facts(fields["query"]))
    return fields


@api(WRITE)
async def create_endpoint(ctx: Ctx) -> Response:
    fields = _endpoint_fields(ctx, await ctx.json_object(), create=True)
    view = ctx.state.catalog.create(ctx.project_id, fields, ctx.key.user_id)
    return json_response(ctx.state.dialect.endpoint_json(view, ctx.base_url), 201)


@api(READ)
async def retrieve_endpoint(ctx: Ctx) -> Response:
    """The endpoint; with ``?version=N`` on the current dialect, the endpoint seen at that version."""
    state = ctx.state
    row = state.catalog.get(ctx.project_id, ctx.request.path_params["name"])
    raw = ctx.request.query_params.get("version")
    if state.dialect.version_on_retrieve and raw is not None:
        number = _version_number(raw)
        version = state.store.get_version(row.id, number)
        if version is None:
            raise api_errors.PlainError(404, {"error": f"Version {number} not found"})
        return json_response(
            state.dialect.version_json(version, state.catalog.view(row, version), ctx.base_url)
        )
    return json_response(state.dialect.endpoint_json(state.catalog.view(row), ctx.base_url))


@api(WRITE)
async def update_endpoint(ctx: Ctx) -> Response:
    """PATCH and PUT are both partial, as PostHog. ``?version=N`` updates that version's is_active
    (documented dialect); on the current one see :func:`_update_version`."""
    state = ctx.state
    row = state.catalog.get(ctx.project_id, ctx.request.path_params["name"])
    body = await ctx.json_object(allow_empty=True)
    version_param = ctx.request.query_params.get("version")
    if state.dialect.targets_versions_on_update:
        return _update_version(ctx, row, body, version_param)
    if version_param is not None:
        number = _version_number(version_param)
        version = state.store.get_version(row.id, number)
        if version is None:
            raise api_errors.PlainError(404, {"error": f"Version {number} not found"})
        is_active = body.get("is_active")
        if is_active is not None:
            if not isinstance(is_active, bool):
                raise api_errors.validation_error("Must be a boolean", "is_active")
            state.store.set_version_active(row.id, number, is_active)
            version = state.store.get_version(row.id, number) or version
        return json_response(
            state.dialect.version_json(version, state.catalog.view(row, version), ctx.base_url)
        )
    fields = _endpoint_fields(ctx, body, create=False)
    view = state.catalog.update(row, fields, ctx.key.user_id)
    return json_response(state.dialect.endpoint_json(view, ctx.base_url))


def _update_version(ctx: Ctx, row: EndpointRow, body: dict[str, Any], version_param: str | None) -> Response:
    """PostHog today: the version comes from the body, else the URL, and is parsed first; the body
    is validated next; then an update aimed at a version answers that version, another the endpoint."""
    state = ctx.state
    raw = body.get("version")
    number = parse_target_version(raw if raw is not None else version_param)
    fields = _endpoint_fields(ctx, body, create=False)
    if number is None:
        view = state.catalog.update(row, fields, ctx.key.user_id)
        return json_response(state.dialect.endpoint_json(view, ctx.base_url))
    view = state.catalog.update_version(row, number, fields, ctx.key.user_id)
    return json_response(state.dialect.version_json(view.version, view, ctx.base_url))


@api(WRITE)
async def delete_endpoint(ctx: Ctx) -> Response:
    row = ctx.state.catalog.get(ctx.project_id, ctx.request.path_params["name"])
    ctx.state.catalog.delete(row, hard=ctx.state.dialect.hard_delete)
    return Response(status_code=204)


@api(READ)
async def list_versions(ctx: Ctx) -> Response:
    state = ctx.state
    row = state.catalog.get(ctx.project_id, ctx.request.path_params["name"])
    versions, page = state.store.list_versions(row.id), _page(ctx)
    items = [
        state.dialect.version_json(v, state.catalog.view(row, v), ctx.base_url) for v in page.slice(versions)
    ]
    return json_response(state.dialect.versions_json(items, count=len(versions), page=page))


@api(READ)
async def version_detail(ctx: Ctx) -> Response:
    state = ctx.state
    if not state.dialect.version_detail_route:
        raise api_errors.not_found()  # PostHog today has no such route: Django's plain 404
    row = state.catalog.get(ctx.project_id, ctx.request.path_params["name"])
    raw = ctx.request.path_params["version"]
    version = state.store.get_version(row.id, int(raw)) if raw.isdecimal() else None
    if version is None:
        raise api_errors.PlainError(404, {"error": f"Version {raw} not found"})
    return json_response(state.dialect.version_json(version, state.catalog.view(row, version), ctx.base_url))


@api(READ)
async def last_execution_times(ctx: Ctx) -> Response:
    """Wrapper with ``[name, iso]`` rows for endpoints run with an API key in the past 6 months."""
    body = await ctx.json_object(allow_empty=True)
    names = body.get("names")
    status = {
        "id": "",
        "team_id": ctx.project_id,
        "query_async": True,
        "complete": True,
        "error": False,
        "error_message": None,
        "results": None,
        "start_time": None,
        "pickup_time": None,
        "end_time": None,
        "expiration_time": None,
        "task_id": None,
        "query_progress": None,
        "dashboard_id": None,
        "insight_id": None,
        "labels": None,
    }
    if names is not None and not isinstance(names, list):
        raise api_errors.validation_error("names must be a list of endpoint names.", "names")
    if names:
        for name in names:
            if not isinstance(name, str) or not NAME_RE.fullmatch(name):
                raise api_errors.validation_error(f"Invalid endpoint name: {name}", "names")
        horizon = timefmt.now() - SIX_MONTHS_SECONDS
        rows = []
        for name in dict.fromkeys(names):
            row = ctx.state.store.get_endpoint(ctx.project_id, name)
            if row is not None and row.last_executed_at is not None and row.last_executed_at >= horizon:
                rows.append([name, timefmt.iso(row.last_executed_at)])
        status["results"] = rows
    return json_response({"query_status": status})
