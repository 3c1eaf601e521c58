"""Endpoint variables as Python users write them, and as PostHog stores them.

Users write ``variables={"since": "2026-01-01"}``; PostHog stores a HogQL query's variables as
``{variableId: {"variableId", "code_name", "value"}}`` inside the query. A ``{variables.x}`` in the
HogQL without a declared ``x`` is accepted by PostHog and then fails every run, so it is refused
here, before anything is sent.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from endpoints_dagster.client.errors import InvalidRequestError

__all__ = ["declared_names", "undeclared", "used_variables", "with_variables"]

_PLACEHOLDER = re.compile(r"\{\s*variables\.([A-Za-z_][A-Za-z0-9_]*)\s*\}")


def used_variables(hogql: str) -> list[str]:
    """The code names of the ``{variables.x}`` placeholders in HogQL, in order of first use."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(hogql)))


def declared_names(query: Mapping[str, Any]) -> list[str]:
    """The code names a stored query declares (its ``variables`` object, or a list of them)."""
    variables = query.get("variables")
    items = variables.values() if isinstance(variables, Mapping) else variables or []
    return [str(v["code_name"]) for v in items if isinstance(v, Mapping) and v.get("code_name")]


def _ids_by_name(query: Mapping[str, Any] | None) -> dict[str, str]:
    variables = (query or {}).get("variables")
    if not isinstance(variables, Mapping):
        return {}
    return {
        str(v["code_name"]): str(v.get("variableId") or key)
        for key, v in variables.items()
        if isinstance(v, Mapping) and v.get("code_name")
    }


def with_variables(
    name: str,
    query: dict[str, Any],
    variables: Mapping[str, Any] | None,
    *,
    previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``query`` with ``variables`` declared in PostHog's shape, checked against its HogQL.

    ``previous`` is the endpoint's stored query (on update): its variable ids are reused, so a
    variable keeps its identity across versions, and its declarations are kept for placeholders
    the new query still uses when ``variables`` does not mention them.

    Raises:
        InvalidRequestError: the HogQL uses a variable that is not declared (naming it and the
            endpoint), or ``variables`` is not a mapping of identifiers.
    """
    out = dict(query)
    if variables is not None:
        if not isinstance(variables, Mapping):
            raise InvalidRequestError(
                f"Endpoint {name!r}: variables must be a mapping {{code_name: default value}}, "
                f"e.g. variables={{'since': '2026-01-01'}}; got {type(variables).__name__}.",
                endpoint=name,
                attr="variables",
            )
        ids = _ids_by_name(previous) | _ids_by_name(query)
        declared: dict[str, Any] = {}
        for code_name, value in variables.items():
            if not isinstance(code_name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", code_name):
                raise InvalidRequestError(
                    f"Endpoint {name!r}: variable name {code_name!r} is not an identifier such as 'since'.",
                    endpoint=name,
                    attr="variables",
                )
            variable_id = ids.get(code_name) or str(uuid.uuid4())
            declared[variable_id] = {"variableId": variable_id, "code_name": code_name, "value": value}
        out["variables"] = declared
    _carry_over(out, previous)
    _check_declared(name, out)
    return out


def _carry_over(query: dict[str, Any], previous: Mapping[str, Any] | None) -> None:
    """Keep the previous declarations of placeholders the query uses and does not declare itself."""
    hogql = query.get("query")
    if previous is None or not isinstance(hogql, str) or query.get("kind") != "HogQLQuery":
        return
    missing = set(used_variables(hogql)) - set(declared_names(query))
    old = previous.get("variables")
    if not missing or not isinstance(old, Mapping):
        return
    kept = {k: v for k, v in old.items() if isinstance(v, Mapping) and v.get("code_name") in missing}
    if kept:
        current = query.get("variables")
        query["variables"] = {**(current if isinstance(current, Mapping) else {}), **kept}


def undeclared(query: Mapping[str, Any]) -> list[str]:
    """The ``{variables.x}`` placeholders of a HogQL query that it does not declare."""
    hogql = query.get("query")
    if query.get("kind") != "HogQLQuery" or not isinstance(hogql, str):
        return []
    declared = set(declared_names(query))
    return [v for v in used_variables(hogql) if v not in declared]


def _check_declared(name: str, query: Mapping[str, Any]) -> None:
    missing = undeclared(query)
    if missing:
        listed = ", ".join(missing)
        example = ", ".join(f"{v!r}: ..." for v in missing)
        raise InvalidRequestError(
            f"Endpoint {name!r}: the query uses {{variables.{missing[0]}}} but does not declare the "
            f"variable(s) {listed}, so every run would fail. Declare each with its default value: "
            f"variables={{{example}}}.",
            endpoint=name,
            attr="variables",
        )
