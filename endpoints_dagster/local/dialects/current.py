"""The ``current`` dialect: PostHog's endpoints API as deployed today, imitated strictly.

Differences from the documented dialect (``docs/dialects.md``), and the
PostHog source each follows (``products/endpoints/backend/``):

* Run bodies are PostHog's ``EndpointRunRequest`` (pydantic, ``extra="forbid"``): only
  ``client_query_id, debug, filters_override, limit, offset, refresh, variables, version``.
  Any other key is a 400 in the exceptions-hog shape, ``detail: "Extra inputs are not
  permitted"``, ``attr`` the key (so ``variables_values`` is refused). ``query_override`` is
  refused by ``validate_run_request`` with its own message. Declared fields are checked before
  extras, in the schema's order, as pydantic reports them.
* ``refresh``: ``cache`` (default) -> blocking, ``force`` -> force_blocking, ``direct`` ->
  force_blocking without the materialized table (400 on an endpoint that is not
  materialized). Anything else is pydantic's enum error. Never async, never 202.
* Run results name the version ``endpoint_version`` / ``endpoint_version_created_at`` and
  carry ``execution_id``; ``cache_key`` only with ``debug: true``. Without ``limit`` the
  query's default 100 rows come back with ``hasMore: false`` (``_execute_query_and_respond``
  forces it when there is no pagination): silent truncation.
* ``limit``/``offset`` may come in the body or the query string; ``offset`` without
  ``limit`` is ``{"error": "offset requires limit to be set"}``.
* Lists and versions are DRF ``LimitOffsetPagination`` pages; a version is the endpoint seen
  at that version (``version``, ``version_id``, ``endpoint_is_active``, ...), read one at a time
  through ``GET {name}/?version=N``; ``versions/{n}/`` does not exist.
* ``data_freshness_seconds`` (one of ``VALID_DATA_FRESHNESS_SECONDS``) replaces
  ``cache_age_seconds``; endpoint bodies forbid unknown fields too.
* Delete is soft: the endpoint is gone from every route and its name is free at once.
* Last execution times move at most every 30 minutes (``LAST_EXECUTED_THROTTLE``).
* A query is checked when saved (``logic/validation.py``): no ``connectionId``, it parses, every
  ``{variables.x}`` is declared, and the ids of used variables are UUIDs (``current_checks``).
* PATCH/PUT with a ``version`` (body, else ``?version=``) updates that version only (description,
  is_active, materialization); a query is refused, an unknown version is a 400 (``logic/crud.py``).
* Endpoints carry ``tags``, ``derived_from_insight``, ``current_version_id``, the version's own
  description, ``data_freshness_seconds`` 86400 when unset (and results cached that long) and a
  materialization block with ``saved_query_id``.
* A ``limit``/``offset`` out of range in the body gets the URL's plain error; a materialized
  endpoint run without one of its variables is a 400, never a run on the saved default.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from endpoints_dagster.local import api_errors, timefmt
from endpoints_dagster.local.dialects import current_checks as checks
from endpoints_dagster.local.dialects.documented import (
    Dialect,
    EndpointView,
    Page,
    QueryFacts,
    RunRequest,
    user_json,
)
from endpoints_dagster.local.services.stored_query import is_json_scalar_or_list
from endpoints_dagster.local.storage.store import VersionRow

# PostHog's DATA_FRESHNESS_BUCKET_SPECS: seconds and their human names, in order.
DATA_FRESHNESS = {
    900: "15 minutes",
    1800: "30 minutes",
    3600: "1 hour",
    21600: "6 hours",
    43200: "12 hours",
    86400: "24 hours",
    604800: "7 days",
}
RUN_FIELDS = (
    "client_query_id",
    "debug",
    "filters_override",
    "limit",
    "offset",
    "refresh",
    "variables",
    "version",
)
# query_override is not in the schema's documented fields, but PostHog answers it with its own
# message (validate_run_request) rather than as an extra input; so does this server.
REFUSED_RUN_FIELDS = ("query_override",)
REFRESH = {"cache": "blocking", "force": "force_blocking", "direct": "force_blocking"}
# EndpointRequest fields this server implements; PostHog has a few more (display_name,
# bucket_overrides, ...) that would be refused here as extras: the server does not pretend.
ENDPOINT_FIELDS = frozenset(
    {
        "name",
        "query",
        "description",
        "is_active",
        "is_materialized",
        "sync_frequency",
        "data_freshness_seconds",
        "tags",
        "version",  # the version a PATCH/PUT aims at (read by the route, see targets_versions_on_update)
        "derived_from_insight",
    }
)
MAX_PAGE_LIMIT = 1000
EXTRA = "Extra inputs are not permitted"


def _refuse_extras(body: dict[str, Any], allowed: frozenset[str] | tuple[str, ...]) -> None:
    for key in body:
        if key not in allowed:
            raise api_errors.validation_error(EXTRA, key)


MAX_INT = 2**63 - 1


def _body_int(body: dict[str, Any], name: str) -> int | None:
    """A body integer as pydantic reads one (lax: numeric strings too); its range is checked later."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdecimal():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise api_errors.validation_error("Input should be a valid integer", name)
    if abs(value) > MAX_INT:  # beyond 64 bits no row, page or cache key can use it (it used to be a 500)
        raise api_errors.validation_error(f"Input should be less than or equal to {MAX_INT}", name)
    return value


def _at_least(value: int | None, name: str, minimum: int) -> int | None:
    """``_parse_int_param``: a body value below the minimum is refused as one in the URL would be."""
    if value is not None and value < minimum:
        raise api_errors.PlainError(400, {"error": f"Invalid {name} parameter: {value}"})
    return value


def _query_int(params: dict[str, str], name: str, minimum: int) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.strip().isdecimal() or not minimum <= int(raw) <= MAX_INT:
        raise api_errors.PlainError(400, {"error": f"Invalid {name} parameter: {raw}"})
    return int(raw)


def _positive(raw: str | None, *, strict: bool) -> int | None:
    """DRF's ``_positive_int``: None for anything unusable, so the default applies."""
    try:
        value = int(raw) if raw is not None else None
    except ValueError:
        return None
    if value is None or value < 0 or (strict and value == 0):
        return None
    return value


class CurrentDialect(Dialect):
    """PostHog as deployed today (see the module docstring)."""

    name = "current"
    hard_delete = False
    version_on_retrieve = True
    version_detail_route = False
    variables_attr = "variables"
    cache_field = "data_freshness_seconds"
    # Unset freshness reads as 24 h and caches results that long (crud: DEFAULT_DATA_FRESHNESS_SECONDS).
    default_cache_age_seconds = float(checks.DEFAULT_DATA_FRESHNESS_SECONDS)
    targets_versions_on_update = True
    inactive_version_attr = None  # validate_run_request raises it without a field
    last_execution_granularity_seconds = 1800.0  # LAST_EXECUTED_THROTTLE = 30 minutes

    # -- endpoint bodies ---------------------------------------------------------------------
    def parse_endpoint_body(self, body: dict[str, Any], *, create: bool) -> dict[str, Any]:
        """Also ``tags`` and ``derived_from_insight`` (create only, as PostHog's crud keeps it)."""
        _refuse_extras(body, ENDPOINT_FIELDS)
        own = ("data_freshness_seconds", "derived_from_insight", "tags", "version")
        out = super().parse_endpoint_body({k: v for k, v in body.items() if k not in own}, create=create)
        if "data_freshness_seconds" in body:
            # Stored where the documented dialect keeps cache_age_seconds: it is the same setting.
            out["cache_age_seconds"] = self._freshness(body["data_freshness_seconds"])
        tags = checks.parse_tags(body.get("tags"))
        if tags is not None:
            out["tags"] = tags
        insight = checks.parse_insight(body.get("derived_from_insight"))
        if create and insight is not None:
            out["derived_from_insight"] = insight
        return out

    def check_saved_query(self, query: dict[str, Any], facts: QueryFacts) -> None:
        checks.check_saved_query(query, facts)

    def check_required_variables(self, required: set[str], given: dict[str, Any]) -> None:
        checks.check_required_variables(required, given)

    def endpoint_json(self, view: EndpointView, base_url: str) -> dict[str, Any]:
        """``_serialize``: the version's description, tags, the insight, the version's id, and the
        materialization block of today (with its saved-query id)."""
        out = super().endpoint_json(view, base_url)
        row, version = view.row, view.version
        if out["data_freshness_seconds"] is None:
            out["data_freshness_seconds"] = checks.DEFAULT_DATA_FRESHNESS_SECONDS
        out["description"] = version.description if version.description is not None else row.description
        out["current_version_id"] = version.id  # the version shown (PostHog: str(version.id))
        out["derived_from_insight"] = row.derived_from_insight
        out["tags"] = list(row.tags)
        out["materialization"] = checks.materialization_json(view.materialization)
        return out

    @staticmethod
    def _freshness(value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or value not in DATA_FRESHNESS:
            allowed = sorted(DATA_FRESHNESS)
            human = ", ".join(DATA_FRESHNESS[s] for s in allowed)
            raise api_errors.validation_error(
                f"Data freshness must be one of: {allowed} seconds ({human}).", "data_freshness_seconds"
            )
        return int(value)

    # -- lists and versions ------------------------------------------------------------------
    def page(self, params: list[tuple[str, str]], url: str, default_size: int) -> Page:
        """DRF's LimitOffsetPagination: bad values fall back to the defaults, limit is capped."""
        given = dict(params)
        limit = min(_positive(given.get("limit"), strict=True) or default_size, MAX_PAGE_LIMIT)
        offset = _positive(given.get("offset"), strict=False) or 0
        return Page(offset=offset, limit=limit, url=url, params=tuple(params))

    def _link(self, page: Page, offset: int | None) -> str:
        """``page.url`` with the page's other parameters kept, and limit/offset replaced (sorted, as DRF)."""
        assert page.limit is not None
        query = {k: v for k, v in page.params if k not in ("limit", "offset")}
        query["limit"] = str(page.limit)
        if offset is not None:
            query["offset"] = str(offset)
        return f"{page.url}?{urlencode(sorted(query.items()))}"

    def list_json(self, items: list[dict[str, Any]], *, count: int, page: Page) -> Any:
        assert page.limit is not None
        following = page.offset + page.limit
        if page.offset <= 0:
            previous = None
        else:
            previous = self._link(page, page.offset - page.limit if page.offset - page.limit > 0 else None)
        return {
            "count": count,
            "next": self._link(page, following) if following < count else None,
            "previous": previous,
            "results": items,
        }

    def version_json(self, version: VersionRow, view: EndpointView, base_url: str) -> dict[str, Any]:
        """The endpoint seen at ``version``: its fields plus the version's own (``_serialize(version)``)."""
        out = self.endpoint_json(view, base_url)
        out["is_active"] = version.is_active
        out.update(
            version=version.version,
            version_id=version.id,
            endpoint_is_active=view.row.is_active,
            version_created_at=timefmt.iso(version.created_at),
            version_created_by=user_json(version.created_by),
        )
        return out

    def versions_json(self, items: list[dict[str, Any]], *, count: int, page: Page) -> Any:
        return self.list_json(items, count=count, page=page)

    # -- runs --------------------------------------------------------------------------------
    def parse_run(self, body: dict[str, Any] | None, query_params: dict[str, str]) -> RunRequest:
        body = body or {}
        req = RunRequest(refresh="blocking")
        cqid = body.get("client_query_id")
        if cqid is not None:
            if not isinstance(cqid, str) or not cqid:
                raise api_errors.validation_error("Input should be a valid string", "client_query_id")
            req.client_query_id = cqid
        debug = body.get("debug")
        if debug is not None and not isinstance(debug, bool):
            raise api_errors.validation_error("Input should be a valid boolean", "debug")
        req.debug = bool(debug)
        filters = body.get("filters_override")
        if filters is not None and not isinstance(filters, dict):
            raise api_errors.validation_error(
                "Input should be a valid dictionary or instance of DashboardFilter", "filters_override"
            )
        req.filters_override = filters  # refused for HogQL endpoints in check_run, as PostHog does
        req.limit = _body_int(body, "limit")
        req.offset = _body_int(body, "offset")
        refresh = body.get("refresh")
        if refresh is not None:
            if refresh not in REFRESH:
                raise api_errors.validation_error("Input should be 'cache', 'force' or 'direct'", "refresh")
            req.refresh, req.direct = REFRESH[refresh], refresh == "direct"
        variables = body.get("variables")
        if variables is not None:
            if not isinstance(variables, dict):
                raise api_errors.validation_error("Input should be a valid dictionary", "variables")
            for code_name, value in variables.items():
                if not is_json_scalar_or_list(value):
                    raise api_errors.validation_error(
                        f"Variable '{code_name}' must be a string, number, boolean, null or list.",
                        "variables",
                    )
            req.variables_values = variables
        if body.get("version") is not None:
            req.version = _body_int(body, "version")  # no minimum: an unknown version is a 404
        else:
            req.version = self.parse_version(query_params.get("version"))
        _refuse_extras(body, RUN_FIELDS + REFUSED_RUN_FIELDS)
        req.query_override = body.get("query_override") is not None
        # The view checks ranges after the schema: body first, the URL only when the body has none.
        _at_least(req.limit, "limit", 1)
        _at_least(req.offset, "offset", 0)
        if req.limit is None:
            req.limit = _query_int(query_params, "limit", 1)
        if req.offset is None:
            req.offset = _query_int(query_params, "offset", 0)
        if req.offset is not None and req.limit is None:
            raise api_errors.PlainError(400, {"error": "offset requires limit to be set"})
        return req

    def check_run(self, req: RunRequest, *, materialized: bool) -> None:
        """``validate_run_request``'s order: query_override, filters_override, direct, (then variables)."""
        if req.query_override:
            raise api_errors.validation_error("Not allowed. Use variables instead.", "query_override")
        if req.filters_override is not None:  # every endpoint here is a HogQL one
            raise api_errors.validation_error(
                "Not allowed for HogQL endpoints. Use variables instead.", "filters_override"
            )
        if req.direct and not materialized:
            raise api_errors.validation_error(
                "'direct' refresh mode is only valid for materialized endpoints. Use 'cache' or 'force' instead, "
                "or enable materialization on this endpoint.",
                "refresh",
            )

    def run_result_json(
        self,
        core: dict[str, Any],
        *,
        name: str,
        version: VersionRow,
        is_cached: bool,
        req: RunRequest | None = None,
    ) -> dict[str, Any]:
        out = super().run_result_json(core, name=name, version=version, is_cached=is_cached, req=req)
        del out["_version"], out["_version_created_at"]
        if req is None or not req.debug:
            del out["cache_key"]
        if req is None or req.limit is None:
            out["hasMore"] = False  # no pagination asked: PostHog says nothing about the rows it cut
        out["execution_id"] = str(uuid.uuid4())
        out["endpoint_version"] = version.version
        out["endpoint_version_created_at"] = timefmt.iso(version.created_at)
        return out
