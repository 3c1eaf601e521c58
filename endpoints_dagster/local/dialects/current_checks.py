"""Rules of PostHog's endpoints API today that the documented dialect does not have (issue 15).

Each follows PostHog's ``products/endpoints/backend`` (the file named in its docstring); the
messages are PostHog's own, since clients match them. Pure functions: the current dialect calls
them, and the unit tests call them directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from endpoints_dagster.local import api_errors, timefmt
from endpoints_dagster.local.dialects.documented import QueryFacts
from endpoints_dagster.local.storage.store import MaterializationRow

#: ``constants.DEFAULT_DATA_FRESHNESS_SECONDS``: what an unset freshness reads as, and the cache lifetime.
DEFAULT_DATA_FRESHNESS_SECONDS = 86400
DIRECT_CONNECTION_UNSUPPORTED = (
    "Endpoints can't query a direct connection. "
    "Switch the connection to PostHog (ClickHouse) and query a synced table instead."
)
VARIABLES_DOCS = "https://posthog.com/docs/endpoints/variables"
# Saved-query ids are made up here (the local server has no saved queries); stable per table.
_SAVED_QUERY_NAMESPACE = uuid.UUID("3b0f7a64-4f0e-4d7a-9a55-2f1c8e6d9b21")


def check_saved_query(query: dict[str, Any], facts: QueryFacts) -> None:
    """``logic/validation.validate_hogql_query``'s order: direct connection, parse, then variables.

    PostHog first drops declared variables the query does not use, so only used ones are held to
    being UUIDs here. Its last check, that each id exists as a team insight variable, has no
    counterpart locally (there is no variable registry).
    """
    if query.get("connectionId"):
        raise api_errors.validation_error(DIRECT_CONNECTION_UNSUPPORTED, "query")
    if facts.syntax_error is not None:
        raise api_errors.validation_error(f"Invalid HogQL query: {facts.syntax_error}", "query")
    declared = {
        spec["code_name"]: variable_id for variable_id, spec in (query.get("variables") or {}).items()
    }
    undefined = sorted(facts.variables - declared.keys())
    if undefined:
        raise api_errors.validation_error(
            f"Query references undefined variable(s): {', '.join(undefined)}. "
            f"See {VARIABLES_DOCS} for detail.",
            "query",
        )
    not_uuids = sorted(vid for code, vid in declared.items() if code in facts.variables and not _is_uuid(vid))
    if not_uuids:
        # The trailing space is PostHog's.
        raise api_errors.validation_error(
            f"Variable ID(s) not valid UUIDs: {', '.join(not_uuids)}. ", "query"
        )


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def parse_tags(value: Any) -> tuple[str, ...] | None:
    """``tags``: a list of names, normalised as PostHog's ``tagify`` (trimmed, lower case), deduplicated
    and sorted as ``_get_tag_names`` returns them. None (or absent) leaves the tags as they are."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise api_errors.validation_error("Input should be a valid list", "tags")
    if not all(isinstance(tag, str) for tag in value):
        raise api_errors.validation_error("Input should be a valid string", "tags")
    return tuple(sorted({tag.strip().lower() for tag in value if tag.strip()}))


def parse_insight(value: Any) -> str | None:
    """``derived_from_insight``: the short id of the insight an endpoint was made from, or null."""
    if value is not None and not isinstance(value, str):
        raise api_errors.validation_error("Input should be a valid string", "derived_from_insight")
    return value


def parse_target_version(raw: Any) -> int | None:
    """``_parse_version_param``: the version a PATCH/PUT aims at (body first, then the URL)."""
    if raw is None:
        return None
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise api_errors.validation_error(f"Must be an integer, got: {raw}", "version")
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise api_errors.validation_error(f"Must be an integer, got: {raw}", "version") from None


def materialization_json(mat: MaterializationRow | None) -> dict[str, Any]:
    """``logic/materialization.build_materialization_info``: the block for one version.

    The error is shown only while the build is not Completed (a stale error is hidden), and the
    saved-query id stands for the table the local server built.
    """
    if mat is None:
        return {"can_materialize": True, "reason": None}
    return {
        "status": mat.status,
        "can_materialize": True,
        "last_materialized_at": timefmt.iso(mat.last_materialized_at),
        "error": "" if mat.status == "Completed" else (mat.error or ""),
        "saved_query_id": saved_query_id(mat),
    }


def saved_query_id(mat: MaterializationRow) -> str:
    return str(uuid.uuid5(_SAVED_QUERY_NAMESPACE, f"{mat.endpoint_id}/{mat.version}/{mat.table_name}"))


def check_required_variables(required: Iterable[str], given: dict[str, Any]) -> None:
    """``validate_run_request``: a materialized endpoint holds rows for every value of its variables,
    so each must be given (not null), or the caller would read all of them. Never the saved default."""
    missing = sorted(set(required) - {name for name, value in given.items() if value is not None})
    if missing:
        names = ", ".join(repr(name) for name in missing)
        raise api_errors.validation_error(f"Required variable(s) {names} not provided", "variables")
