"""The component's state: a PostHog project's endpoint list, saved as JSON.

`dg utils refresh-defs-state` (or `save_endpoint_state`) reads the list once from the API and
writes it here; loading definitions reads only this file, so a code location loads without the
network and without PostHog being up.

The file keeps every endpoint, inactive ones too: the selection (include/exclude, active only)
is applied at load time, so changing it in YAML needs no refresh.

Example:
    .. code-block:: python

        from endpoints_dagster.discovery.state import EndpointsState

        state = EndpointsState.read("state.json")
        [e.name for e in state.endpoints]
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from endpoints_dagster.client.models import Endpoint

#: Bumped when the layout changes incompatibly; an unknown format asks for a refresh.
STATE_FORMAT = "endpoints_dagster.state/1"

REFRESH_HINT = (
    "Run `dg utils refresh-defs-state` in the project (it reads the endpoint list from PostHog "
    "once and saves it), then reload the code location."
)


class EndpointStateError(ValueError):
    """The saved endpoint list cannot be read; the message says how to recreate it."""


@dataclass(frozen=True)
class VariableState:
    """A `{variables.code_name}` placeholder of an endpoint and its saved default value."""

    code_name: str
    variable_id: Optional[str] = None
    value: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"code_name": self.code_name, "variable_id": self.variable_id, "value": self.value}


@dataclass(frozen=True)
class EndpointState:
    """What the component knows about one endpoint without asking PostHog.

    Names are not checked here: an entry PostHog would refuse is skipped by the planner with
    a warning naming it, instead of failing the whole list.
    """

    name: str
    description: Optional[str] = None
    hogql: Optional[str] = None
    query_kind: Optional[str] = None
    current_version: Optional[int] = None
    is_active: bool = True
    variables: tuple[VariableState, ...] = ()
    is_materialized: bool = False
    cache_age_seconds: Optional[int] = None
    ui_url: Optional[str] = None

    @property
    def saved_variables(self) -> dict[str, Any]:
        """`{code_name: saved default}` of the endpoint's variables."""
        return {v.code_name: v.value for v in self.variables}

    @classmethod
    def from_endpoint(cls, endpoint: Endpoint) -> EndpointState:
        """Keep what definitions need from an API `Endpoint` (no timestamps, so an unchanged
        project writes an identical file)."""
        return cls(
            name=endpoint.name,
            description=endpoint.description or None,
            hogql=endpoint.hogql,
            query_kind=endpoint.query.get("kind") if isinstance(endpoint.query, dict) else None,
            current_version=endpoint.current_version,
            is_active=endpoint.is_active,
            variables=tuple(VariableState(v.code_name, v.variable_id, v.value) for v in endpoint.variables),
            is_materialized=endpoint.is_materialized,
            cache_age_seconds=endpoint.cache_age_seconds,
            ui_url=endpoint.ui_url,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "hogql": self.hogql,
            "query_kind": self.query_kind,
            "current_version": self.current_version,
            "is_active": self.is_active,
            "variables": [v.to_json() for v in self.variables],
            "is_materialized": self.is_materialized,
            "cache_age_seconds": self.cache_age_seconds,
            "ui_url": self.ui_url,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EndpointState:
        """Parse one entry; raises `EndpointStateError` naming the entry when it is malformed."""
        if not isinstance(data, Mapping):
            raise EndpointStateError(f"endpoint entry is a {type(data).__name__}, not an object")
        name = data.get("name")
        if not isinstance(name, str):
            raise EndpointStateError(f"endpoint entry has no name: {_short(data)}")
        variables = data.get("variables") or []
        if not isinstance(variables, list) or not all(
            isinstance(v, Mapping) and isinstance(v.get("code_name"), str) for v in variables
        ):
            raise EndpointStateError(f"endpoint {name!r}: `variables` is not a list of {{code_name, value}}")
        version = data.get("current_version")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise EndpointStateError(f"endpoint {name!r}: current_version {version!r} is not an integer")
        return cls(
            name=name,
            description=data.get("description"),
            hogql=data.get("hogql"),
            query_kind=data.get("query_kind"),
            current_version=version,
            is_active=bool(data.get("is_active", True)),
            variables=tuple(
                VariableState(v["code_name"], v.get("variable_id"), v.get("value")) for v in variables
            ),
            is_materialized=bool(data.get("is_materialized", False)),
            cache_age_seconds=data.get("cache_age_seconds"),
            ui_url=data.get("ui_url"),
        )


@dataclass(frozen=True)
class EndpointsState:
    """The endpoint list of one PostHog project, as saved by a refresh.

    `endpoints` holds the entries that parsed; `broken` holds `(label, reason)` for entries that
    did not, so the loader can warn about each by name instead of failing.
    """

    endpoints: tuple[EndpointState, ...]
    project_id: Optional[str] = None
    host: Optional[str] = None
    fetched_at: Optional[str] = None
    broken: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @classmethod
    def from_endpoints(
        cls, endpoints: Iterable[Endpoint], *, project_id: Optional[str] = None, host: Optional[str] = None
    ) -> EndpointsState:
        ordered = sorted(endpoints, key=lambda e: e.name)  # stable file for stable diffs
        return cls(
            endpoints=tuple(EndpointState.from_endpoint(e) for e in ordered),
            project_id=None if project_id is None else str(project_id),
            host=host,
            fetched_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "project_id": self.project_id,
            "host": self.host,
            "fetched_at": self.fetched_at,
            "endpoints": [e.to_json() for e in self.endpoints],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, sort_keys=False, default=str)

    @classmethod
    def loads(cls, text: str, *, source: str = "state") -> EndpointsState:
        """Parse a saved state; a file that is not ours at all raises `EndpointStateError`."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise EndpointStateError(
                f"the endpoint state {source} is not valid JSON ({exc}). {REFRESH_HINT}"
            ) from None
        if not isinstance(data, Mapping) or not isinstance(data.get("endpoints"), list):
            raise EndpointStateError(f"the endpoint state {source} has no `endpoints` list. {REFRESH_HINT}")
        if data.get("format") != STATE_FORMAT:
            raise EndpointStateError(
                f"the endpoint state {source} has format {data.get('format')!r}, this version reads "
                f"{STATE_FORMAT!r}. {REFRESH_HINT}"
            )
        good: list[EndpointState] = []
        broken: list[tuple[str, str]] = []
        for index, entry in enumerate(data["endpoints"]):
            try:
                good.append(EndpointState.from_json(entry))
            except EndpointStateError as exc:
                label = (
                    entry.get("name")
                    if isinstance(entry, Mapping) and isinstance(entry.get("name"), str)
                    else f"#{index}"
                )
                broken.append((str(label), str(exc)))
        project_id = data.get("project_id")
        return cls(
            endpoints=tuple(good),
            project_id=None if project_id is None else str(project_id),
            host=data.get("host"),
            fetched_at=data.get("fetched_at"),
            broken=tuple(broken),
        )

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> EndpointsState:
        """Read a state file; a missing file raises `EndpointStateError` with the command to run."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise EndpointStateError(f"no endpoint state at {path}. {REFRESH_HINT}") from None
        return cls.loads(text, source=str(path))

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (a reader never sees half a file); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(self.dumps())
            # mkstemp makes the file owner-only; the state holds no secret, and an image built
            # by one user is often served by another.
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
