"""The ``documented`` dialect, and the base class of the other: request parsing and response shaping.

The ``documented`` dialect (the reference page; see ``docs/dialects.md``) is
implemented here completely. The ``current`` dialect (PostHog as deployed today) is the
:class:`~endpoints_dagster.local.dialects.current.CurrentDialect` subclass, which overrides these methods: run
bodies with ``variables``, three refresh modes, paginated lists, ``data_freshness_seconds``,
soft delete and so on. Handlers never look at field names of a body or a response
themselves; they ask the dialect (``state.dialect``) and follow its flags
(``hard_delete``, ``version_on_retrieve``, ``version_detail_route``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from endpoints_dagster.local import api_errors, timefmt
from endpoints_dagster.local.services.stored_query import is_json_scalar_or_list, validate_query
from endpoints_dagster.local.storage.store import EndpointRow, MaterializationRow, VersionRow

NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]{0,127}$")
NAME_RULE = (
    "Endpoint name must start with a letter, contain only alphanumeric characters, hyphens, or underscores, "
    "and be between 1 and 128 characters long."
)
MIN_CACHE_AGE, MAX_CACHE_AGE = 300, 86400
RUN_REFRESH_MODES = ("blocking", "async", "lazy_async", "force_blocking", "force_async", "force_cache")
SYNC_FREQUENCIES = ("5min", "30min", "1hour", "6hour", "12hour", "24hour", "7day", "30day")
NEXT_REFRESH_SECONDS = 60  # PostHog's default minimum refresh interval for a query runner
MAX_CLIENT_QUERY_ID = 256


@dataclass
class EndpointView:
    """Everything the Endpoint JSON is made of."""

    row: EndpointRow
    version: VersionRow
    versions_count: int
    materialization: MaterializationRow | None


@dataclass(frozen=True)
class QueryFacts:
    """What the engine can tell of a query about to be saved, for :meth:`Dialect.check_saved_query`."""

    syntax_error: str | None  # why it does not parse, or None
    variables: frozenset[str]  # the code names its ``{variables.x}`` placeholders use


@dataclass(frozen=True)
class Page:
    """Which slice of a list to answer: everything (``limit`` None) or one page of it."""

    offset: int = 0
    limit: int | None = None
    url: str = ""  # this request's absolute URL, for next/previous links
    params: tuple[tuple[str, str], ...] = ()  # this request's query parameters, in order

    def slice(self, items: list[Any]) -> list[Any]:
        return items[self.offset :] if self.limit is None else items[self.offset : self.offset + self.limit]


@dataclass
class RunRequest:
    refresh: str = "blocking"  # one of RUN_REFRESH_MODES (a dialect maps its own names onto them)
    direct: bool = False  # read the query even where a materialized table exists (current: refresh=direct)
    debug: bool = False  # current: show debug fields (cache_key) in the result
    client_query_id: str | None = None
    variables_values: dict[str, Any] = field(default_factory=dict)
    variables_override: dict[str, Any] = field(default_factory=dict)
    filters_override: dict[str, Any] | None = None
    query_override: bool = False
    version: int | None = None
    limit: int | None = None
    offset: int | None = None


def user_json(user_id: int | None) -> dict[str, Any] | None:
    """PostHog's ``UserBasicSerializer`` for the local user a key belongs to."""
    if user_id is None:
        return None
    return {
        "id": user_id,
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"endpoints-local-user-{user_id}")),
        "distinct_id": f"local-user-{user_id}",
        "first_name": "Local",
        "last_name": f"User {user_id}",
        "email": f"user{user_id}@localhost",
        "is_email_verified": True,
    }


def check_name(name: Any) -> str:
    if name is None or name == "":
        raise api_errors.validation_error("Endpoint must have a name.", "name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise api_errors.validation_error(NAME_RULE, "name")
    return name


def _bool(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise api_errors.validation_error(f"{name} must be true or false.", name)
    return value


def _int(value: Any, name: str, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise api_errors.validation_error(f"{name} must be an integer >= {minimum}.", name)
    return value


class Dialect:
    """The documented dialect. Subclass and override to add another."""

    name = "documented"
    hard_delete = True  # False: soft delete, the name is free again at once
    version_on_retrieve = False  # True: GET {name}/?version=N answers that version
    version_detail_route = True  # False: versions/{n}/ does not exist (404)
    variables_attr = "variables_values"  # the body field an unknown variable is blamed on
    cache_field = "cache_age_seconds"  # how the endpoint JSON names its cache setting
    default_cache_age_seconds: float | None = None  # an unset cache age (None: the result cache's 6 h)
    targets_versions_on_update = False  # True: PATCH/PUT with a version updates that version (PostHog today)
    inactive_version_attr: str | None = "version"  # the field a run of an inactive version is blamed on
    last_execution_granularity_seconds = 0.0  # default of the knob: exact last execution times

    # -- endpoint bodies ---------------------------------------------------------------------
    def parse_endpoint_body(self, body: dict[str, Any], *, create: bool) -> dict[str, Any]:
        """Validated endpoint fields that were sent (``cache_age_seconds`` may be sent as null)."""
        out: dict[str, Any] = {}
        if create:
            out["name"] = check_name(body.get("name"))
            if body.get("query") is None:
                raise api_errors.validation_error("Must specify query", "query")
        if body.get("query") is not None:
            out["query"] = validate_query(body["query"])
        if "description" in body:
            description = body["description"]
            if description is not None and not isinstance(description, str):
                raise api_errors.validation_error("description must be a string.", "description")
            out["description"] = description or ""
        for flag in ("is_active", "is_materialized"):
            value = _bool(body, flag)
            if value is not None:
                out[flag] = value
        if "cache_age_seconds" in body:
            out["cache_age_seconds"] = self._cache_age(body["cache_age_seconds"])
        sync_frequency = body.get("sync_frequency")
        if sync_frequency is not None:
            if sync_frequency not in SYNC_FREQUENCIES:
                raise api_errors.validation_error(
                    f"sync_frequency must be one of {', '.join(SYNC_FREQUENCIES)}.", "sync_frequency"
                )
            out["sync_frequency"] = sync_frequency
        return out

    def check_saved_query(self, query: dict[str, Any], facts: QueryFacts) -> None:
        """Refuse a query about to be saved (create, or update with a query). None here: the
        documented dialect reports a query that does not run when it runs."""

    def _cache_age(self, value: Any) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise api_errors.validation_error(
                "cache_age_seconds must be a number of seconds or null.", "cache_age_seconds"
            )
        if not MIN_CACHE_AGE <= value <= MAX_CACHE_AGE:
            raise api_errors.validation_error(
                f"Cache age must be between {MIN_CACHE_AGE} and {MAX_CACHE_AGE} seconds.", "cache_age_seconds"
            )
        return value

    # -- endpoint responses ------------------------------------------------------------------
    def endpoint_json(self, view: EndpointView, base_url: str) -> dict[str, Any]:
        row, mat = view.row, view.materialization
        path = f"/api/projects/{row.project_id}/endpoints/{row.name}/run"
        if mat is not None:
            materialization: dict[str, Any] = {
                "status": mat.status,
                "can_materialize": True,
                "last_materialized_at": timefmt.iso(mat.last_materialized_at),
                "error": mat.error,
                "sync_frequency": mat.sync_frequency,
            }
        else:
            materialization = {"can_materialize": True, "reason": None}
        age = row.cache_age_seconds
        return {
            "id": row.id,
            "name": row.name,
            "description": row.description,
            "query": view.version.query,
            "is_active": row.is_active,
            self.cache_field: int(age) if age is not None and float(age).is_integer() else age,
            "is_materialized": mat is not None,
            "materialization": materialization,
            "current_version": row.current_version,
            "versions_count": view.versions_count,
            "endpoint_path": path,
            "url": f"{base_url}{path}",
            "ui_url": f"{base_url}/project/{row.project_id}/endpoints/{row.name}",
            "created_at": timefmt.iso_z(row.created_at),
            "updated_at": timefmt.iso_z(row.updated_at),
            "created_by": user_json(row.created_by),
            "last_executed_at": timefmt.iso_z(row.last_executed_at),
            "derived_from_insight": None,
        }

    # -- lists and versions ------------------------------------------------------------------
    def page(self, params: list[tuple[str, str]], url: str, default_size: int) -> Page:
        """The slice of a list a request asks for: the documented dialect lists everything."""
        return Page()

    def list_json(self, items: list[dict[str, Any]], *, count: int, page: Page) -> Any:
        return {"results": items}

    def version_json(self, version: VersionRow, view: EndpointView, base_url: str) -> dict[str, Any]:
        """One version (``view``: the endpoint seen at that version, for dialects that show it)."""
        return {
            "id": version.id,
            "version": version.version,
            "query": version.query,
            "is_active": version.is_active,
            "created_at": timefmt.iso(version.created_at),
            "created_by": user_json(version.created_by),
        }

    def versions_json(self, items: list[dict[str, Any]], *, count: int, page: Page) -> Any:
        """The versions list (items made by :meth:`version_json`): a plain array here."""
        return items

    # -- runs --------------------------------------------------------------------------------
    def parse_version(self, value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        # isdecimal, not isdigit: int() refuses digits such as "²" that isdigit accepts.
        if isinstance(value, str) and value.strip().lstrip("-").isdecimal():
            return int(value)
        raise api_errors.PlainError(400, {"error": f"Invalid version parameter: {value}"})

    def parse_run(self, body: dict[str, Any] | None, query_params: dict[str, str]) -> RunRequest:
        """A run request from a POST body (or ``None`` for GET) and the URL query."""
        body = body or {}
        req = RunRequest()
        refresh = body.get("refresh")
        if refresh is not None:
            if refresh not in RUN_REFRESH_MODES:
                raise api_errors.validation_error(
                    f"refresh must be one of {', '.join(RUN_REFRESH_MODES)}; got {refresh!r}.", "refresh"
                )
            req.refresh = refresh
        cqid = body.get("client_query_id")
        if cqid is not None:
            if not isinstance(cqid, str) or not cqid or len(cqid) > MAX_CLIENT_QUERY_ID:
                raise api_errors.validation_error(
                    f"client_query_id must be a non-empty string of at most {MAX_CLIENT_QUERY_ID} characters.",
                    "client_query_id",
                )
            req.client_query_id = cqid
        values = body.get("variables_values")
        if values is not None:
            if not isinstance(values, dict):
                raise api_errors.validation_error(
                    "variables_values must be an object {code_name: value}.", "variables_values"
                )
            for code_name, value in values.items():
                if not is_json_scalar_or_list(value):
                    raise api_errors.validation_error(
                        f"Variable '{code_name}' must be a string, number, boolean, null or list.",
                        "variables_values",
                    )
            req.variables_values = values
        overrides = body.get("variables_override")
        if overrides is not None:
            if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
                raise api_errors.validation_error(
                    "variables_override must be an object {variableId: {variableId, code_name, value}}.",
                    "variables_override",
                )
            for variable_id, spec in overrides.items():
                if not is_json_scalar_or_list(spec.get("value")):
                    raise api_errors.validation_error(
                        f"variables_override[{variable_id!r}].value must be a string, number, boolean, null or list.",
                        "variables_override",
                    )
            req.variables_override = overrides
        req.filters_override = self._filters(body.get("filters_override"))
        req.query_override = body.get("query_override") is not None
        version = body.get("version")
        req.version = self.parse_version(version if version is not None else query_params.get("version"))
        req.limit = _int(body.get("limit"), "limit", 1)
        req.offset = _int(body.get("offset"), "offset", 0)
        if req.offset is not None and req.limit is None:
            raise api_errors.validation_error(
                "offset needs limit: send both to page through results.", "offset"
            )
        return req

    def check_run(self, req: RunRequest, *, materialized: bool) -> None:
        """Refusals that need the endpoint (after its version is known, before the variables)."""
        if req.query_override:
            raise api_errors.validation_error(
                "Query override is not supported for HogQL queries", "query_override"
            )

    def check_required_variables(self, required: set[str], given: dict[str, Any]) -> None:
        """Variables a run of a materialized endpoint must give (``required``: its variables; ``given``:
        the request's). None here: the documented dialect runs missing ones on their saved values."""

    def _filters(self, filters: Any) -> dict[str, Any] | None:
        if filters is None:
            return None
        if not isinstance(filters, dict):
            raise api_errors.validation_error(
                "filters_override must be an object {date_from, date_to, properties}.", "filters_override"
            )
        for key in ("date_from", "date_to"):
            if filters.get(key) is not None and not isinstance(filters[key], str):
                raise api_errors.validation_error(
                    f"filters_override.{key} must be a date string or null.", "filters_override"
                )
        props = filters.get("properties")
        if props is not None:
            if not isinstance(props, list) or not all(
                isinstance(p, dict) and isinstance(p.get("key"), str) for p in props
            ):
                raise api_errors.validation_error(
                    "filters_override.properties must be a list of {key, value, operator}.",
                    "filters_override",
                )
            for prop in props:
                if not is_json_scalar_or_list(prop.get("value")) or not isinstance(
                    prop.get("operator", "exact"), str
                ):
                    raise api_errors.validation_error(
                        f"filters_override.properties[{prop['key']!r}]: "
                        "value must be a scalar or list, operator a string.",
                        "filters_override",
                    )
        return {
            k: filters.get(k) for k in ("date_from", "date_to", "properties") if filters.get(k) is not None
        }

    def run_result_json(
        self,
        core: dict[str, Any],
        *,
        name: str,
        version: VersionRow,
        is_cached: bool,
        req: RunRequest | None = None,
    ) -> dict[str, Any]:
        """The RunResult for ``core`` (what the cache holds) in this dialect's names (``req``: the request)."""
        last_refresh = core.get("last_refresh")
        out: dict[str, Any] = {
            "results": core.get("results"),
            "columns": core.get("columns"),
            "types": core.get("types"),
            "hasMore": core.get("hasMore", False),
            "limit": core.get("limit"),
            "offset": core.get("offset"),
            "is_cached": is_cached,
            "cache_key": core["cache_key"],
            "last_refresh": timefmt.iso_z(last_refresh),
            "next_allowed_client_refresh": timefmt.iso_z(last_refresh + NEXT_REFRESH_SECONDS)
            if last_refresh
            else None,
            "timezone": "UTC",
            "query_status": None,
            "name": name,
            "_version": version.version,
            "_version_created_at": timefmt.iso(version.created_at),
        }
        if core.get("endpoint_materialized"):
            out["endpoint_materialized"] = True
            out["endpoint_materialized_at"] = timefmt.iso(core.get("endpoint_materialized_at"))
        return out

    def cache_miss_json(
        self, cache_key: str, *, name: str, version: VersionRow, limit: int | None, offset: int | None
    ) -> dict[str, Any]:
        core = {
            "results": None,
            "columns": None,
            "types": None,
            "hasMore": False,
            "limit": limit,
            "offset": offset,
            "cache_key": cache_key,
            "last_refresh": None,
        }
        return self.run_result_json(core, name=name, version=version, is_cached=False)

    def async_json(self, query_status: dict[str, Any]) -> dict[str, Any]:
        return {"query_status": query_status}
