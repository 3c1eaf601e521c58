"""PostHog as deployed today: ``variables``, refresh ``cache|force|direct``, ``?version=N``, paginated lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from endpoints_dagster.client.dialects.base import (
    CURRENT_REFRESH_MODES,
    CURRENT_ROW_DEFAULT,
    DATA_FRESHNESS_SECONDS,
    refresh_error,
    rename_field,
    with_run_fields,
)
from endpoints_dagster.client.errors import InvalidRequestError
from endpoints_dagster.client.runs.args import DOCUMENTED_REFRESH_MODES, RunArgs


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
                endpoint=endpoint,
                attr="refresh",
            )
        mapped = {
            "blocking": "cache",
            "async": "cache",
            "lazy_async": "cache",
            "force_blocking": "force",
            "force_async": "force",
        }.get(refresh, refresh)
        if mapped not in CURRENT_REFRESH_MODES:
            raise refresh_error(endpoint, refresh, DOCUMENTED_REFRESH_MODES[:-1] + CURRENT_REFRESH_MODES)
        return mapped

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
                endpoint=endpoint,
                attr="query_override",
            )
        variables = _override_values(endpoint, args.variables_override)
        variables.update(args.variables or {})
        body: dict[str, Any] = {}
        if variables:
            body["variables"] = variables
        if args.filters_override is not None:  # insight endpoints only; PostHog refuses it on HogQL ones
            body["filters_override"] = args.filters_override
        return "POST", {}, with_run_fields(body, wire, client_query_id, version, limit, offset, auto_limit)

    def may_have_more(self, rows: int, sent_limit: int | None) -> bool:
        # hasMore is not to be trusted here (forced false without a limit), so a full page means
        # "maybe more": the client pages on until a short page. The price is one empty page when a
        # result is an exact multiple of the page size.
        effective = sent_limit if sent_limit is not None else CURRENT_ROW_DEFAULT
        return rows > 0 and rows >= effective

    def endpoint_fields(self, endpoint: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        out = rename_field(endpoint, fields, "cache_age_seconds", "data_freshness_seconds")
        value = out.get("data_freshness_seconds")
        if value is not None and (isinstance(value, bool) or value not in DATA_FRESHNESS_SECONDS):
            allowed = ", ".join(f"{seconds} ({label})" for seconds, label in DATA_FRESHNESS_SECONDS.items())
            raise InvalidRequestError(
                f"Endpoint {endpoint!r}: cache age {value!r} s is not allowed by this PostHog server, which stores "
                f"it as data_freshness_seconds and accepts only {allowed}. Pick one of those (or None for the "
                "default).",
                endpoint=endpoint,
                attr="data_freshness_seconds",
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
                endpoint=endpoint,
                attr="variables_override",
            )
        values[str(item["code_name"])] = item.get("value")
    return values
