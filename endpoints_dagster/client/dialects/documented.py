"""The reference page's dialect: ``variables_values``, six refresh modes, ``versions/{n}/``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from endpoints_dagster.client.dialects.base import (
    CURRENT_REFRESH_MODES,
    build_run_request,
    refresh_error,
    rename_field,
)
from endpoints_dagster.client.errors import InvalidRequestError
from endpoints_dagster.client.runs.args import DOCUMENTED_REFRESH_MODES, RunArgs


class DocumentedDialect:
    """The reference page's dialect; the run body comes from :func:`build_run_request`."""

    name = "documented"
    cache_field = "cache_age_seconds"
    version_key = "_version"
    probe_rows = 0  # hasMore is trustworthy here

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
        # The current dialect's names, asked of a documented server: the equivalent mode, or a refusal.
        if refresh == "direct":
            raise InvalidRequestError(
                f"refresh='direct' for endpoint {endpoint!r} is only offered by PostHog's current API (it reads "
                "a materialized endpoint's source query); this server speaks the documented API. Use "
                "refresh='force_blocking', or api_dialect='current' if the server is current PostHog.",
                endpoint=endpoint,
                attr="refresh",
            )
        refresh = {"cache": "blocking", "force": "force_blocking"}.get(refresh, refresh)
        if refresh not in DOCUMENTED_REFRESH_MODES:
            raise refresh_error(endpoint, refresh, DOCUMENTED_REFRESH_MODES + CURRENT_REFRESH_MODES[:2])
        return build_run_request(
            endpoint,
            args,
            refresh=refresh,
            version=version,
            client_query_id=client_query_id,
            limit=limit,
            offset=offset,
            auto_limit=auto_limit,
        )

    def may_have_more(self, rows: int, sent_limit: int | None) -> bool:
        return False

    def endpoint_fields(self, endpoint: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        return rename_field(endpoint, fields, "data_freshness_seconds", "cache_age_seconds")

    def version_route(self, number: int) -> tuple[tuple[str, ...], dict[str, Any]]:
        return ("versions", str(number)), {}
