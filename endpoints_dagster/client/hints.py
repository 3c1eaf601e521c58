"""Errors retold in the caller's words, with what PostHog knows that the raw answer does not say.

A run refused for an unknown variable names the wire field (``variables_values``); a 404 names
only the endpoint. Both are rebuilt here after one extra read (the endpoint, or the project's
list), best effort: when that read fails too, the original error is raised unchanged.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from endpoints_dagster.client.errors import EndpointNotFoundError, InvalidRequestError, PostHogEndpointsError
from endpoints_dagster.client.models import Endpoint

__all__ = ["close_names", "did_you_mean", "retell_not_found", "retell_unknown_variables"]

_UNKNOWN = re.compile(r"unknown variables?(?:\(s\))?\s*:?\s*(.+)", re.IGNORECASE)
_VARIABLE_FIELDS = {"variables_values", "variables", "variables_override"}


def close_names(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Names close to ``name`` (typos, case), best first."""
    known = list(known)
    by_case = [k for k in known if k.lower() == name.lower() and k != name]
    return list(dict.fromkeys([*by_case, *difflib.get_close_matches(name, known, n=n, cutoff=0.6)]))[:n]


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` (with a leading space), or an empty string when nothing is close."""
    close = close_names(name, known)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _copy(
    error: PostHogEndpointsError, cls: type[PostHogEndpointsError], message: str, **changes: Any
) -> PostHogEndpointsError:
    """A new error of ``cls`` with ``message``, keeping everything else the original carried."""
    fields: dict[str, Any] = dict(
        endpoint=error.endpoint,
        status_code=error.status_code,
        code=error.code,
        detail=error.detail,
        attr=error.attr,
        request_method=error.request_method,
        request_url=error.request_url,
    )
    fields.update(changes)
    out = cls(message, **fields)
    for extra in ("version", "current_version"):
        if hasattr(error, extra):
            setattr(out, extra, getattr(error, extra))
    return out


def retell_not_found(
    error: EndpointNotFoundError, list_endpoints: Callable[[], Sequence[Endpoint]], project_id: int
) -> PostHogEndpointsError:
    """The 404 of a missing endpoint, with close names or an empty project pointed out."""
    name = error.endpoint
    if name is None or getattr(error, "version", None) is not None:
        return error
    try:
        names = [e.name for e in list_endpoints()]
    except Exception:  # best effort: the original error stays the news
        return error
    if not names:
        hint = (
            f" Project {project_id} has no endpoints at all: is project_id right? It is the number in "
            "PostHog's /project/<id>/ URLs."
        )
    else:
        hint = did_you_mean(name, names)
    return _copy(error, EndpointNotFoundError, error.message + hint) if hint else error


def unknown_variables(error: InvalidRequestError) -> list[str] | None:
    """The names a run was refused for as unknown variables, or ``None`` for another 400."""
    if error.attr not in _VARIABLE_FIELDS and "variable" not in (error.detail or "").lower():
        return None
    match = _UNKNOWN.search(error.detail or "")
    if not match:
        return None
    return [n for n in re.split(r"[\s,]+", match.group(1).strip().rstrip(".")) if n]


def retell_unknown_variables(
    error: InvalidRequestError, name: str, get_endpoint: Callable[[str], Endpoint]
) -> PostHogEndpointsError:
    """A refused unknown variable, named as the caller passed it (``variables``) with the real ones."""
    unknown = unknown_variables(error)
    if not unknown:
        return error
    try:
        real = [v.code_name for v in get_endpoint(name).variables]
    except Exception:  # best effort: say what is known without the endpoint's own list
        real = None
    if real is None:
        has = ""
    elif real:
        has = f" Its variables are: {', '.join(real)}."
    else:
        has = " It declares no variables."
    hints = "".join(did_you_mean(u, real or []) for u in unknown)
    message = (
        f"Endpoint {name!r} has no variable {', '.join(repr(u) for u in unknown)} (passed in `variables`)."
        f"{has}{hints} Remove it from `variables`, or declare it on the endpoint "
        "(update_endpoint(name, variables={...}))."
    )
    return _copy(error, InvalidRequestError, message, attr="variables")
