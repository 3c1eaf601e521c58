"""The local server's application: configuration, state, and the ASGI app factory.

``build_state(config)`` opens everything under ``--data`` (SQLite state, the chDB
engine), registers the keys, resumes unfinished materializations and seeds the demo;
``create_app(state)`` returns the ASGI app uvicorn serves::

    state = build_state(ServerConfig(data_dir=Path("data"), api_keys=[parse_key_spec("phx_k", 1)]))
    app = create_app(state)        # uvicorn.run(app, ...); state.close() afterwards

The ASGI stack, outermost first: path normalisation + request counting (``Edge``),
fault injection (needs uvicorn's raw ``send``), then the Starlette router.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from endpoints_dagster.local import api_errors
from endpoints_dagster.local.dialects.documented import Dialect
from endpoints_dagster.local.dialects.registry import get_dialect
from endpoints_dagster.local.server.auth import Authenticator
from endpoints_dagster.local.server.faults import FaultMiddleware, KnobsHolder, RateLimiter
from endpoints_dagster.local.server.routes import control as local
from endpoints_dagster.local.server.routes import endpoints as ep
from endpoints_dagster.local.server.routes import query as q
from endpoints_dagster.local.server.routes import run as run
from endpoints_dagster.local.server.routing import error_response, json_response
from endpoints_dagster.local.server.state import ServerConfig, State
from endpoints_dagster.local.server.stats import Stats
from endpoints_dagster.local.services.endpoint_runs import EngineBinding, RunService
from endpoints_dagster.local.services.executions import Runner
from endpoints_dagster.local.services.lifecycle import Catalog
from endpoints_dagster.local.services.materialization import Materializer
from endpoints_dagster.local.services.result_cache import ResultCache
from endpoints_dagster.local.storage.files import make_private, read_or_create_secret
from endpoints_dagster.local.storage.store import Store

log = logging.getLogger("endpoints_local.app")

DEFAULT_API_KEY = "phx_local_demo_key"
SECRET_FILE = "server_secret"  # the HMAC key of the stored API key hashes (mode 0600)


def real_engine(config: ServerConfig) -> EngineBinding:
    from endpoints_dagster.local.engine.clickhouse import Engine, EngineQueryCancelled, EngineQueryError

    engine = Engine(config.data_dir, events=config.events, seed=config.seed, limits=config.limits)
    return EngineBinding(engine, EngineQueryError, EngineQueryCancelled)


def build_state(config: ServerConfig, binding: EngineBinding | None = None) -> State:
    """Open (or create) the server's state under ``config.data_dir``."""
    from endpoints_dagster.local import timefmt

    config.data_dir.mkdir(parents=True, exist_ok=True)
    make_private(config.data_dir)
    store = Store(config.data_dir / "state.sqlite3")
    for name in ("state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm"):
        make_private(config.data_dir / name)  # older builds left them world-readable
    interrupted = store.interrupt_unfinished(timefmt.now())
    if interrupted:
        log.info("marked %d executions of a previous process as failed", interrupted)
    auth = Authenticator(store, read_or_create_secret(config.data_dir / SECRET_FILE))
    keys = list(config.api_keys)
    if config.demo and not keys:
        from endpoints_dagster.local.server.auth import parse_key_spec

        keys.append(parse_key_spec(DEFAULT_API_KEY, config.project_id))
    registered = [auth.register(spec) for spec in keys]
    dropped = auth.drop_legacy()
    if dropped:
        log.info("dropped %d API key hashes of an older build whose keys were not given again", dropped)
    if auth.key_count == 0:
        log.warning("no API key configured: every request will get 401; pass --api-key KEY")
    binding = binding or real_engine(config)
    dialect = get_dialect(config.dialect)
    knobs = KnobsHolder(config.knobs)
    stats = Stats()
    runner = Runner(
        store,
        stats,
        knobs,
        workers=config.workers,
        estimated_rows=config.events,
        running_per_project=config.running_per_project,
        admitted_per_project=config.queries_per_project,
    )
    materializer = Materializer(store, binding.engine)
    engine = binding.engine
    catalog = Catalog(
        store,
        auth,
        materializer,
        getattr(engine, "normalise", _collapse_whitespace),
        syntax_error=getattr(engine, "syntax_error", None),
        referenced_variables=getattr(engine, "referenced_variables", None),
        check_query=_query_checker(binding),
    )
    runs = RunService(store, ResultCache(store), runner, binding, dialect, knobs)
    state = State(
        config,
        store,
        auth,
        binding,
        knobs,
        stats,
        RateLimiter(),
        runner,
        materializer,
        catalog,
        runs,
        dialect,
    )
    resumed = materializer.resume()
    if resumed:
        log.info("resumed %d unfinished materializations", resumed)
    if config.demo:
        owner = next((k.user_id for k in registered if config.project_id in k.projects), None)
        seed_demo(state, config.project_id, owner)
    return state


def _query_checker(binding: EngineBinding) -> Callable[[dict[str, Any]], None]:
    """A stored query's check at create/update: the engine's allowlist, as a 400 naming ``query``."""
    check = getattr(binding.engine, "check_query", None)

    def run_check(query: dict[str, Any]) -> None:
        if check is None:
            return
        values = {
            spec.get("code_name"): spec.get("value") for spec in (query.get("variables") or {}).values()
        }
        try:
            check(query["query"], values)
        except binding.query_error as exc:
            raise api_errors.validation_error(getattr(exc, "message", None) or str(exc), "query") from None

    return run_check


def _collapse_whitespace(text: str) -> str:
    return " ".join(text.split())


def seed_demo(state: State, project_id: int, user_id: int | None) -> None:
    """Create (or bring up to date) the demo endpoints, through the same logic as the API."""
    from endpoints_dagster.local import demo

    # Date defaults relative to the data's anchor (stored with the data) rather than to
    # today, so a restart on another day makes no new versions of the demo endpoints.
    anchor = getattr(getattr(state.binding.engine, "dataset", None), "anchor", None)
    bodies = demo.demo_endpoints(anchor.date()) if anchor is not None else demo.DEMO_ENDPOINTS
    for body in bodies:
        # The demo bodies are written in the documented dialect whatever the server speaks.
        fields = Dialect().parse_endpoint_body(dict(body), create=True)
        state.catalog.ensure(project_id, fields, user_id)


# -- the ASGI app ----------------------------------------------------------------------------
PREFIXES = ("/api/projects/{project_id}", "/api/environments/{project_id}")


def _routes() -> list[Route]:
    routes: list[Route] = []
    for prefix in PREFIXES:
        base = f"{prefix}/endpoints"
        routes += [
            Route(base, ep.list_endpoints, methods=["GET"]),
            Route(base, ep.create_endpoint, methods=["POST"]),
            Route(f"{base}/last_execution_times", ep.last_execution_times, methods=["POST"]),
            Route(base + "/{name}", ep.retrieve_endpoint, methods=["GET"]),
            Route(base + "/{name}", ep.update_endpoint, methods=["PATCH", "PUT"]),
            Route(base + "/{name}", ep.delete_endpoint, methods=["DELETE"]),
            Route(base + "/{name}/run", run.run_get, methods=["GET"]),
            Route(base + "/{name}/run", run.run_post, methods=["POST"]),
            Route(base + "/{name}/versions", ep.list_versions, methods=["GET"]),
            Route(base + "/{name}/versions/{version}", ep.version_detail, methods=["GET"]),
            Route(prefix + "/query/{query_id}", q.query_status, methods=["GET"]),
            Route(prefix + "/query/{query_id}", q.cancel_query, methods=["DELETE"]),
        ]
    routes += [
        Route("/_local/knobs", local.get_knobs, methods=["GET"]),
        Route("/_local/knobs", local.set_knobs, methods=["POST"]),
        Route("/_local/knobs/reset", local.reset_knobs, methods=["POST"]),
        Route("/_local/stats", local.get_stats, methods=["GET"]),
        Route("/_local/stats/reset", local.reset_stats, methods=["POST"]),
        Route("/_local/executions", local.executions, methods=["GET"]),
        Route("/_local/cache/clear", local.clear_cache, methods=["POST"]),
        Route("/_local/materialized_tables", local.materialized_tables, methods=["GET"]),
    ]
    return routes


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error_response(api_errors.method_not_allowed(request.method))
    if exc.status_code == 404:
        return error_response(api_errors.not_found())
    return json_response(
        {"type": "invalid_request", "code": "error", "detail": exc.detail, "attr": None}, exc.status_code
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(api_errors.server_error())


class Edge:
    """Accept paths with or without the trailing slash, and count requests per route template."""

    def __init__(self, app: Any, routes: list[Route], stats: Stats) -> None:
        self.app = app
        self.routes = routes
        self.stats = stats

    def template(self, scope: dict) -> str:
        partial = None
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return _display(route.path)
            if match is Match.PARTIAL and partial is None:
                partial = route.path
        return _display(partial) if partial else "<unmatched>"

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = {**scope, "path": path.rstrip("/") or "/"}
            self.stats.count_request(f"{scope['method']} {self.template(scope)}")
        await self.app(scope, receive, send)


def _display(path: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path) + "/"


def create_app(state: State) -> Any:
    """The ASGI app for ``state`` (serve it with uvicorn; the caller closes the state)."""
    routes = _routes()
    app = Starlette(
        routes=routes, exception_handlers={404: _http_error, 405: _http_error, Exception: _unexpected}
    )
    app.router.redirect_slashes = False
    app.state.local = state
    return Edge(FaultMiddleware(app, state.knobs, seed=state.config.seed), routes, state.stats)
