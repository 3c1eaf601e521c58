"""The stored query: validating, expanding and comparing ``HogQLQuery`` objects.

PostHog stores a query as the full pydantic ``HogQLQuery`` dump, so every schema key a
client did not send comes back as ``null``. Whether an update "changed the query" is
decided on the normalised, expanded forms: the same query sent in short form (only
``kind`` and ``query``) or with different whitespace is not a new version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from endpoints_dagster.local import api_errors

# The HogQLQuery keys the contract promises back as null when absent.
EXPANDED_KEYS = (
    "explain",
    "filters",
    "modifiers",
    "name",
    "response",
    "tags",
    "values",
    "variables",
    "version",
)
SUPPORTED_KIND = "HogQLQuery"


def is_json_scalar_or_list(value: Any) -> bool:
    """Variable values are typed literals: string, number, bool, null, or a list of those."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, list):
        return all(v is None or isinstance(v, (str, bool, int, float)) for v in value)
    return False


def validate_query(query: Any, attr: str = "query") -> dict[str, Any]:
    """The expanded, validated form of a ``query`` body field, or a 400 naming the problem."""
    if not isinstance(query, dict):
        raise api_errors.validation_error(
            'query must be an object like {"kind": "HogQLQuery", "query": "SELECT ..."}.', attr
        )
    kind = query.get("kind")
    if kind != SUPPORTED_KIND:
        raise api_errors.validation_error(
            f"The local server runs HogQLQuery endpoints only; got kind {kind!r}. "
            'Send {"kind": "HogQLQuery", "query": "SELECT ..."}.',
            attr,
        )
    text = query.get("query")
    if not isinstance(text, str) or not text.strip():
        raise api_errors.validation_error("query.query must be a non-empty HogQL string.", attr)
    expanded: dict[str, Any] = {"kind": kind, "query": text}
    for key in EXPANDED_KEYS:
        expanded[key] = query.get(key)
    # Keys beyond the contract's list (e.g. PostHog's connectionId) are kept as sent.
    for key, value in query.items():
        expanded.setdefault(key, value)
    expanded["variables"] = _validate_variables(query.get("variables"), attr)
    return expanded


def _validate_variables(variables: Any, attr: str) -> dict[str, Any] | None:
    if variables is None:
        return None
    if not isinstance(variables, dict):
        raise api_errors.validation_error(
            "query.variables must be an object {variableId: {variableId, code_name, value}}.", attr
        )
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for variable_id, spec in variables.items():
        if not isinstance(spec, dict):
            raise api_errors.validation_error(
                f"query.variables[{variable_id!r}] must be an object with code_name and value.", attr
            )
        code_name = spec.get("code_name")
        if not isinstance(code_name, str) or not code_name.isidentifier():
            raise api_errors.validation_error(
                f"query.variables[{variable_id!r}].code_name must be an identifier such as 'since'.", attr
            )
        if code_name in seen:
            raise api_errors.validation_error(
                f"query.variables: code_name {code_name!r} is used twice.", attr
            )
        seen.add(code_name)
        if not is_json_scalar_or_list(spec.get("value")):
            raise api_errors.validation_error(
                f"query.variables[{variable_id!r}].value must be a string, number, boolean, null or list.",
                attr,
            )
        out[str(variable_id)] = {**spec, "variableId": spec.get("variableId") or str(variable_id)}
    return out


def comparable(query: dict[str, Any], normalise: Callable[[str], str]) -> dict[str, Any]:
    """The form two queries are compared in: expanded, with normalised HogQL text."""
    return {**query, "query": normalise(query["query"])}


def saved_variables(query: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{code_name: {"variableId", "code_name", "value"}}`` of a stored query."""
    return {spec["code_name"]: spec for spec in (query.get("variables") or {}).values()}
