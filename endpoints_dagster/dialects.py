"""The two dialects of the PostHog Endpoints API, and how a client finds out which one it talks to.

- **documented**: the public reference page (``variables_values``, six refresh modes including the
  async ones, ``cache_age_seconds``, ``versions/{n}/``, ``_version`` in run results).
- **current**: what PostHog deployments serve today (``variables``, refresh ``cache|force|direct``
  and runs that are always synchronous, ``data_freshness_seconds``, paginated lists,
  ``GET {name}/?version=N``, ``endpoint_version`` in run results, soft delete).

Each dialect is a small object (:class:`DocumentedDialect`, :class:`CurrentDialect`) that builds
request bodies and routes; ``_dialect_state.DialectState`` is one client's choice between them.

``api_dialect="auto"`` starts by assuming the documented dialect (the default everywhere, and the
one the local server speaks unless told otherwise) and never spends a request on probing. It
learns from answers the client asked for anyway - an endpoint carrying ``data_freshness_seconds``,
a paginated list, a run result with ``endpoint_version``, a versions list that is an object - and
remembers the latest clear evidence. The memory is process-wide, per (host, project): Dagster
builds a new client for every asset step and sensor tick, and none of them should pay for a
lesson an earlier one learnt. A run whose documented body the server refuses (400 "Extra inputs
are not permitted", "Only sync modes are supported", a refusal naming ``variables_values``...)
switches to the current dialect and is resent once in the current shape; a second refusal is
raised as it is. So a current server refuses at most one request per process and project (one
per process that starts with a run; none when a list or a read came first).

Example::

    client = EndpointsClient(host, 1, key, api_dialect="current")
    client.run_endpoint("daily_signups", variables={"since": "2026-01-01"}, refresh="force_async")
    # sent: {"variables": {"since": "2026-01-01"}, "refresh": "force", "client_query_id": "<uuid4 hex>",
    #        "limit": 50000}
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from ._polling import REFRESH_MODES, RunArgs
from .errors import InvalidRequestError
from .models import Endpoint, EndpointVersion

__all__ = [
    "API_DIALECTS",
    "ASYNC_REFRESH_MODES",
    "CURRENT_REFRESH_MODES",
    "CURRENT",
    "CURRENT_ROW_DEFAULT",
    "DATA_FRESHNESS_SECONDS",
    "DIALECTS",
    "DOCUMENTED",
    "CurrentDialect",
    "Dialect",
    "DocumentedDialect",
    "build_run_request",
    "endpoint_from_api",
    "version_from_api",
]

API_DIALECTS = ("auto", "documented", "current")
ASYNC_REFRESH_MODES = ("async", "lazy_async", "force_async")
CURRENT_REFRESH_MODES = ("cache", "force", "direct")
# PostHog's allowed data freshness buckets (VALID_DATA_FRESHNESS_SECONDS), with their names.
DATA_FRESHNESS_SECONDS: dict[int, str] = {
    900: "15 minutes", 1800: "30 minutes", 3600: "1 hour", 21600: "6 hours", 43200: "12 hours",
    86400: "1 day", 604800: "7 days",
}
# Rows a current server returns when a run sends no limit (and it then says hasMore: false).
CURRENT_ROW_DEFAULT = 100


class Dialect(Protocol):
    """What differs between the two API dialects; the client asks its active dialect."""

    name: str
    cache_field: str  # the endpoint setting for cache age / data freshness
    version_key: str  # the run result key naming the executed version
    probe_rows: int  # extra rows asked past max_rows to tell "exactly max_rows" from "more"

    def run_request(
        self, endpoint: str, args: RunArgs, *, refresh: str, version: int | None, client_query_id: str | None,
        limit: int | None, offset: int | None, auto_limit: int,
    ) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        """``(method, query params, JSON body or None)`` of one run request."""

    def may_have_more(self, rows: int, sent_limit: int | None) -> bool:
        """Whether a page of ``rows`` rows (asked with ``sent_limit``) may hide more rows than it says."""

    def endpoint_fields(self, endpoint: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Create/update fields in this dialect's names, refused before sending if not allowed."""

    def version_route(self, number: int) -> tuple[tuple[str, ...], dict[str, Any]]:
        """``(path parts after the endpoint name, query params)`` to read one version."""


def _refresh_error(endpoint: str, refresh: str, allowed: tuple[str, ...]) -> InvalidRequestError:
    return InvalidRequestError(
        f"Invalid refresh {refresh!r} for endpoint {endpoint!r}: use one of {', '.join(allowed)}.",
        endpoint=endpoint, attr="refresh",
    )


def _rename(endpoint: str, fields: Mapping[str, Any], old: str, new: str) -> dict[str, Any]:
    out = dict(fields)
    if old in out:
        value = out.pop(old)
        if new in out and out[new] != value:
            raise InvalidRequestError(
                f"Endpoint {endpoint!r}: {old}={value!r} and {new}={out[new]!r} disagree; they are the same "
                f"setting on this server ({new}), so pass only one.", endpoint=endpoint, attr=new,
            )
        out[new] = value
    return out


def build_run_request(
    endpoint: str,
    args: RunArgs,
    *,
    refresh: str,
    version: int | None,
    client_query_id: str | None,
    limit: int | None,
    offset: int | None,
    auto_limit: int,
) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """The run request of the documented dialect: ``(method, query params, JSON body or None)``.

    GET ``run/`` (``?version=N``) when nothing but a version is asked for; otherwise POST with
    ``variables_values``, the overrides, ``refresh``, ``version``, ``limit``/``offset`` and a
    ``client_query_id`` (the caller's, or a new uuid4 hex so a retried POST is the same query).
    ``auto_limit`` is the limit a POST sends when the caller gave none. This is the one place that
    knows the documented run body's field names.
    """
    if refresh not in REFRESH_MODES:
        raise InvalidRequestError(
            f"Invalid refresh {refresh!r} for endpoint {endpoint!r}: use one of {', '.join(REFRESH_MODES)}.",
            endpoint=endpoint,
            attr="refresh",
        )
    body: dict[str, Any] = {}
    for key, value in (
        ("variables_values", args.variables),
        ("variables_override", args.variables_override),
        ("filters_override", args.filters_override),
        ("query_override", args.query_override),
    ):
        if value is not None:
            body[key] = value
    if not body and refresh == "blocking" and client_query_id is None and limit is None and not offset:
        return "GET", ({"version": version} if version is not None else {}), None
    return "POST", {}, _with_run_fields(body, refresh, client_query_id, version, limit, offset, auto_limit)


def _with_run_fields(
    body: dict[str, Any], refresh: str, client_query_id: str | None, version: int | None,
    limit: int | None, offset: int | None, auto_limit: int,
) -> dict[str, Any]:
    """The fields both dialects' run bodies share, added to `body`. A `client_query_id` is always
    sent (the caller's, or a new uuid4 hex), so a retried POST is the same query."""
    body["refresh"] = refresh
    body["client_query_id"] = client_query_id or uuid.uuid4().hex
    if version is not None:
        body["version"] = version
    body["limit"] = limit if limit is not None else auto_limit
    if offset:
        body["offset"] = offset
    return body



class DocumentedDialect:
    """The reference page's dialect; the run body comes from :func:`build_run_request`."""

    name = "documented"
    cache_field = "cache_age_seconds"
    version_key = "_version"
    probe_rows = 0  # hasMore is trustworthy here

    def run_request(
        self, endpoint: str, args: RunArgs, *, refresh: str, version: int | None, client_query_id: str | None,
        limit: int | None, offset: int | None, auto_limit: int,
    ) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        # The current dialect's names, asked of a documented server: the equivalent mode, or a refusal.
        if refresh == "direct":
            raise InvalidRequestError(
                f"refresh='direct' for endpoint {endpoint!r} is only offered by PostHog's current API (it reads "
                "a materialized endpoint's source query); this server speaks the documented API. Use "
                "refresh='force_blocking', or api_dialect='current' if the server is current PostHog.",
                endpoint=endpoint, attr="refresh",
            )
        refresh = {"cache": "blocking", "force": "force_blocking"}.get(refresh, refresh)
        if refresh not in REFRESH_MODES:
            raise _refresh_error(endpoint, refresh, REFRESH_MODES + CURRENT_REFRESH_MODES[:2])
        return build_run_request(
            endpoint, args, refresh=refresh, version=version, client_query_id=client_query_id, limit=limit,
            offset=offset, auto_limit=auto_limit,
        )

    def may_have_more(self, rows: int, sent_limit: int | None) -> bool:
        return False

    def endpoint_fields(self, endpoint: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        return _rename(endpoint, fields, "data_freshness_seconds", "cache_age_seconds")

    def version_route(self, number: int) -> tuple[tuple[str, ...], dict[str, Any]]:
        return ("versions", str(number)), {}


class CurrentDialect:
    """PostHog as deployed today: strict run bodies, synchronous runs, paginated lists.

    Refresh: ``blocking``/``async``/``lazy_async`` -> ``cache``; ``force_blocking``/``force_async``
    -> ``force``; ``cache``, ``force`` and ``direct`` pass through (``direct`` reads a materialized
    endpoint's source query; PostHog refuses it on other endpoints). ``force_cache`` does not exist
    here. The run body always carries ``limit``: without it PostHog returns 100 rows and says
    ``hasMore: false``. It also carries a ``client_query_id`` (see :meth:`run_request`).
    """

    name = "current"
    cache_field = "data_freshness_seconds"
    version_key = "endpoint_version"
    probe_rows = 1  # hasMore may be false on a cut page: ask one row past max_rows to know

    @staticmethod
    def refresh_for(endpoint: str, refresh: str) -> str:
        """The wire refresh mode for a caller's mode (either dialect's name)."""
        if refresh == "force_cache":
            raise InvalidRequestError(
                f"refresh='force_cache' for endpoint {endpoint!r} is not supported by this PostHog server: its "
                "endpoints API (the current one) offers only cache, force and direct, and has no cache-only "
                "read. Use refresh='blocking' (cached results when fresh) instead.",
                endpoint=endpoint, attr="refresh",
            )
        mapped = {"blocking": "cache", "async": "cache", "lazy_async": "cache", "force_blocking": "force",
                  "force_async": "force"}.get(refresh, refresh)
        if mapped not in CURRENT_REFRESH_MODES:
            raise _refresh_error(endpoint, refresh, REFRESH_MODES[:-1] + CURRENT_REFRESH_MODES)
        return mapped

    def run_request(
        self, endpoint: str, args: RunArgs, *, refresh: str, version: int | None, client_query_id: str | None,
        limit: int | None, offset: int | None, auto_limit: int,
    ) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        """Always a POST: ``variables``, ``filters_override``, ``refresh``, ``client_query_id``, ``version``,
        ``limit``, ``offset``.

        ``client_query_id`` (the caller's, or a new uuid4 hex) is in PostHog's ``EndpointRunRequest``
        schema: the run is synchronous, but PostHog tags the ClickHouse query with it, so a run that
        times out or is interrupted can still be stopped through ``DELETE query/{id}/``, and a retried
        POST is the same query. ``variables_override`` entries become ``variables`` by their
        ``code_name``; ``variables`` win, as in the documented order.
        """
        wire = self.refresh_for(endpoint, refresh)
        if args.query_override is not None:
            raise InvalidRequestError(
                f"query_override for endpoint {endpoint!r} is not supported by this PostHog server (current API "
                "answers 'Not allowed. Use variables instead.'). Pass variables={code_name: value} instead.",
                endpoint=endpoint, attr="query_override",
            )
        variables = _override_values(endpoint, args.variables_override)
        variables.update(args.variables or {})
        body: dict[str, Any] = {}
        if variables:
            body["variables"] = variables
        if args.filters_override is not None:  # insight endpoints only; PostHog refuses it on HogQL ones
            body["filters_override"] = args.filters_override
        return "POST", {}, _with_run_fields(body, wire, client_query_id, version, limit, offset, auto_limit)

    def may_have_more(self, rows: int, sent_limit: int | None) -> bool:
        # hasMore is not to be trusted here (forced false without a limit), so a full page means
        # "maybe more": the client pages on until a short page. The price is one empty page when a
        # result is an exact multiple of the page size.
        effective = sent_limit if sent_limit is not None else CURRENT_ROW_DEFAULT
        return rows > 0 and rows >= effective

    def endpoint_fields(self, endpoint: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        out = _rename(endpoint, fields, "cache_age_seconds", "data_freshness_seconds")
        value = out.get("data_freshness_seconds")
        if value is not None and (isinstance(value, bool) or value not in DATA_FRESHNESS_SECONDS):
            allowed = ", ".join(f"{seconds} ({label})" for seconds, label in DATA_FRESHNESS_SECONDS.items())
            raise InvalidRequestError(
                f"Endpoint {endpoint!r}: cache age {value!r} s is not allowed by this PostHog server, which stores "
                f"it as data_freshness_seconds and accepts only {allowed}. Pick one of those (or None for the "
                "default).", endpoint=endpoint, attr="data_freshness_seconds",
            )
        return out

    def version_route(self, number: int) -> tuple[tuple[str, ...], dict[str, Any]]:
        return (), {"version": number}


def _override_values(endpoint: str, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, item in (overrides or {}).items():
        if not isinstance(item, Mapping) or not item.get("code_name"):
            raise InvalidRequestError(
                f"variables_override[{key!r}] for endpoint {endpoint!r} has no code_name, and this PostHog server "
                "takes variables by code name only. Pass variables={code_name: value} instead.",
                endpoint=endpoint, attr="variables_override",
            )
        values[str(item["code_name"])] = item.get("value")
    return values


DOCUMENTED = DocumentedDialect()
CURRENT = CurrentDialect()
DIALECTS: dict[str, Dialect] = {"documented": DOCUMENTED, "current": CURRENT}


# -- parsing both shapes ---------------------------------------------------------------------------


def endpoint_from_api(item: dict[str, Any]) -> Endpoint:
    """An :class:`Endpoint` from either dialect; ``data_freshness_seconds`` fills ``cache_age_seconds``."""
    endpoint = Endpoint.from_api(item)
    if endpoint.cache_age_seconds is None and isinstance(item.get("data_freshness_seconds"), int):
        endpoint = dataclasses.replace(endpoint, cache_age_seconds=item["data_freshness_seconds"])
    return endpoint


def version_from_api(item: dict[str, Any]) -> EndpointVersion:
    """An :class:`EndpointVersion` from either dialect.

    The current dialect answers a version as the endpoint seen at that version: ``id`` is the
    endpoint's, the version's own are ``version_id`` and ``version_created_at``.
    """
    if "version_id" not in item and "version_created_at" not in item:
        return EndpointVersion.from_api(item)
    normalized = dict(item, id=item.get("version_id", item.get("id")),
                      created_at=item.get("version_created_at", item.get("created_at")))
    return dataclasses.replace(EndpointVersion.from_api(normalized), raw=item)
