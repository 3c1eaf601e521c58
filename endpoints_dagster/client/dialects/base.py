"""What both dialects share: the refresh-mode lists, the run-body builder, parsing either shape."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from endpoints_dagster.client.errors import InvalidRequestError
from endpoints_dagster.client.models import Endpoint, EndpointVersion
from endpoints_dagster.client.runs.args import DOCUMENTED_REFRESH_MODES, RunArgs

API_DIALECTS = ("auto", "documented", "current")
ASYNC_REFRESH_MODES = ("async", "lazy_async", "force_async")
CURRENT_REFRESH_MODES = ("cache", "force", "direct")
# PostHog's allowed data freshness buckets (VALID_DATA_FRESHNESS_SECONDS), with their names.
DATA_FRESHNESS_SECONDS: dict[int, str] = {
    900: "15 minutes",
    1800: "30 minutes",
    3600: "1 hour",
    21600: "6 hours",
    43200: "12 hours",
    86400: "1 day",
    604800: "7 days",
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
        self,
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
        """``(method, query params, JSON body or None)`` of one run request."""

    def may_have_more(self, rows: int, sent_limit: int | None) -> bool:
        """Whether a page of ``rows`` rows (asked with ``sent_limit``) may hide more rows than it says."""

    def endpoint_fields(self, endpoint: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Create/update fields in this dialect's names, refused before sending if not allowed."""

    def version_route(self, number: int) -> tuple[tuple[str, ...], dict[str, Any]]:
        """``(path parts after the endpoint name, query params)`` to read one version."""


def refresh_error(endpoint: str, refresh: str, allowed: tuple[str, ...]) -> InvalidRequestError:
    return InvalidRequestError(
        f"Invalid refresh {refresh!r} for endpoint {endpoint!r}: use one of {', '.join(allowed)}.",
        endpoint=endpoint,
        attr="refresh",
    )


def rename_field(endpoint: str, fields: Mapping[str, Any], old: str, new: str) -> dict[str, Any]:
    out = dict(fields)
    if old in out:
        value = out.pop(old)
        if new in out and out[new] != value:
            raise InvalidRequestError(
                f"Endpoint {endpoint!r}: {old}={value!r} and {new}={out[new]!r} disagree; they are the same "
                f"setting on this server ({new}), so pass only one.",
                endpoint=endpoint,
                attr=new,
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
    if refresh not in DOCUMENTED_REFRESH_MODES:
        raise InvalidRequestError(
            f"Invalid refresh {refresh!r} for endpoint {endpoint!r}: use one of {', '.join(DOCUMENTED_REFRESH_MODES)}.",
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
    return "POST", {}, with_run_fields(body, refresh, client_query_id, version, limit, offset, auto_limit)


def with_run_fields(
    body: dict[str, Any],
    refresh: str,
    client_query_id: str | None,
    version: int | None,
    limit: int | None,
    offset: int | None,
    auto_limit: int,
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
    normalized = dict(
        item,
        id=item.get("version_id", item.get("id")),
        created_at=item.get("version_created_at", item.get("created_at")),
    )
    return dataclasses.replace(EndpointVersion.from_api(normalized), raw=item)
