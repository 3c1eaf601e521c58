"""Plan: compare a folder of endpoint files with a PostHog project, change nothing.

Each endpoint gets one :class:`EndpointChange`:

- ``create``: a file with no endpoint in PostHog;
- ``update``: the query or a variable default changes (PostHog makes version N+1), and/or
  settings change (description, cache, materialization, active: no new version);
- ``delete``: the folder deployed it, its file is gone, and ``prune`` was asked for;
- ``removed``: the same without ``prune``: PostHog keeps it;
- ``unchanged``: PostHog already matches the file;
- ``unmanaged``: in PostHog, no file, never deployed from this folder (listed, never touched).

Drift: the lock says the folder last deployed version N, PostHog is at another version now (a
version made in PostHog). It is shown on the endpoint's change; ``apply`` stops on it unless told
to overwrite.

Example::

    with EndpointsClient(host, project_id, key) as client:
        plan = build_plan(load_endpoint_files("endpoints/"), client, Lock.for_folder("endpoints/"))
        print(plan.render())
        plan.has_changes   # exit code 2 in CI
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.client.models import Endpoint

from .files import DEFAULT_SETTINGS, EndpointFile
from .hogql_text import normalized, reflow
from .lock import Deployed, Lock, project_key

__all__ = [
    "Action",
    "EndpointChange",
    "Plan",
    "build_plan",
    "compare",
    "created_settings",
    "desired_query",
    "remote_defaults",
    "remote_settings",
]

Action = Literal["create", "update", "delete", "removed", "unchanged", "unmanaged"]
# Variable ids of new variables: stable per endpoint and code name, so a re-created endpoint
# gets the same ids and two machines planning the same folder send the same body.
_VARIABLE_NAMESPACE = uuid.UUID("0d6f7c5e-2b1a-4f49-9a63-7e4c2a1b9d30")


def remote_defaults(endpoint: Endpoint) -> dict[str, Any]:
    """``{code_name: saved default}`` of an endpoint."""
    return {variable.code_name: variable.value for variable in endpoint.variables}


def remote_settings(endpoint: Endpoint) -> dict[str, Any]:
    """The settings a file manages, as PostHog holds them."""
    return {
        "description": endpoint.description or "",
        "cache_age_seconds": endpoint.cache_age_seconds,
        "is_materialized": endpoint.is_materialized,
        "is_active": endpoint.is_active,
    }


def desired_query(file: EndpointFile, existing: Endpoint | None = None) -> dict[str, Any]:
    """The ``HogQLQuery`` a file deploys; variables keep the ids they already have in PostHog."""
    ids = {variable.code_name: variable.variable_id for variable in existing.variables} if existing else {}
    query: dict[str, Any] = {"kind": "HogQLQuery", "query": file.query}
    if file.variables:
        query["variables"] = {}
        for code, variable in file.variables.items():
            variable_id = ids.get(code) or str(uuid.uuid5(_VARIABLE_NAMESPACE, f"{file.name}.{code}"))
            query["variables"][variable_id] = {
                "variableId": variable_id,
                "code_name": code,
                "value": variable.default,
            }
    return query


@dataclass(frozen=True)
class EndpointChange:
    """What applying the folder does to one endpoint, and why."""

    name: str
    action: Action
    file: EndpointFile | None = None
    remote: Endpoint | None = None
    deployed: Deployed | None = None
    query_diff: str = ""
    variable_changes: tuple[str, ...] = ()
    setting_changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def new_version(self) -> bool:
        """Whether applying makes a new version (a changed query or variable default)."""
        return self.action == "update" and bool(self.query_diff or self.variable_changes)

    @property
    def drift(self) -> bool:
        """PostHog holds another version than the one the folder last deployed."""
        return (
            self.deployed is not None
            and self.remote is not None
            and self.remote.current_version != self.deployed.version
        )

    @property
    def blocking_drift(self) -> bool:
        """Drift that applying would overwrite (a drifted endpoint already equal to its file is harmless)."""
        return self.drift and self.action in ("update", "delete")

    @property
    def is_change(self) -> bool:
        return self.action in ("create", "update", "delete")

    def render(self) -> str:
        """A few lines for the terminal; see :meth:`Plan.render`."""
        file = f" ({self.file.path})" if self.file else ""
        current = self.remote.current_version if self.remote else None
        if self.action == "create":
            again = (
                f"; deleted in PostHog since the folder deployed version {self.deployed.version}"
                if self.deployed
                else ""
            )
            lines = [f"+ create {self.name}{file}{again}"]
        elif self.action == "update":
            what = [f"query changes, creates version {(current or 0) + 1}"] if self.new_version else []
            if self.setting_changes:
                what.append("settings change" + ("" if self.new_version else " (no new version)"))
            lines = [f"~ update {self.name}{file}: {', '.join(what)}"]
            lines += ["    " + line for line in self.query_diff.splitlines()]
            lines += [f"    variable {change}" for change in self.variable_changes]
            lines += [f"    {key}: {old!r} -> {new!r}" for key, (old, new) in self.setting_changes.items()]
        elif self.action == "delete":
            lines = [f"- delete {self.name}: its file was removed (--prune)"]
        elif self.action == "removed":
            lines = [
                f"  removed {self.name}: its file was removed; PostHog keeps it (apply --prune deletes it)"
            ]
        elif self.action == "unchanged":
            lines = [f"= {self.name}{file}: unchanged (version {current})"]
        else:
            lines = [f"? unmanaged {self.name}: in PostHog, no file (export writes one)"]
        if self.drift and self.deployed is not None:
            lines.append(
                f"  ! drift: PostHog is at version {current}, the folder last deployed version "
                f"{self.deployed.version}"
                + (
                    " (apply stops unless --overwrite-drift)"
                    if self.blocking_drift
                    else " (same content: nothing to do)"
                )
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class Plan:
    """Every endpoint's change for one project; :meth:`render` prints it, ``apply_plan`` carries it out."""

    project: str
    changes: tuple[EndpointChange, ...]
    prune: bool = False

    @property
    def has_changes(self) -> bool:
        """Whether ``apply`` (with the same ``prune``) would change something in PostHog."""
        return any(change.is_change for change in self.changes)

    @property
    def drifted(self) -> list[EndpointChange]:
        """Changes that overwrite a version made in PostHog."""
        return [change for change in self.changes if change.blocking_drift]

    def of(self, action: Action) -> list[EndpointChange]:
        return [change for change in self.changes if change.action == action]

    def render(self, *, verbose: bool = False) -> str:
        """The plan for a terminal or a CI log; unchanged endpoints only when ``verbose``.

        Example output::

            + create weekly_revenue (endpoints/weekly_revenue.sql)
            ~ update daily_signups (endpoints/daily_signups.sql): query changes, creates version 3
                --- daily_signups (PostHog, version 2)
                +++ endpoints/daily_signups.sql
                @@ -1 +1 @@
                -SELECT count() FROM events
                +SELECT count() AS n FROM events
            Plan: 1 to create, 1 to update (1 new version), 0 to delete, 4 unchanged.
        """
        shown = [c for c in self.changes if verbose or c.action not in ("unchanged", "unmanaged") or c.drift]
        lines = [change.render() for change in shown]
        unmanaged = [c.name for c in self.of("unmanaged")]
        if unmanaged and not verbose:
            listed = ", ".join(unmanaged[:10]) + (
                f", ... ({len(unmanaged) - 10} more)" if len(unmanaged) > 10 else ""
            )
            lines.append(
                f"? {len(unmanaged)} endpoint(s) in PostHog have no file and are left alone: {listed}"
            )
        updates = self.of("update")
        summary = (
            f"Plan for {self.project}: {len(self.of('create'))} to create, {len(updates)} to update "
            f"({sum(c.new_version for c in updates)} new version), {len(self.of('delete'))} to delete, "
            f"{len(self.of('unchanged'))} unchanged"
        )
        if self.drifted:
            summary += f"; {len(self.drifted)} drifted ({', '.join(c.name for c in self.drifted)})"
        lines.append(summary + "." if self.has_changes or self.drifted else summary + ". No changes.")
        return "\n".join(lines)


def _diff(name: str, remote: Endpoint, file: EndpointFile) -> str:
    """A unified diff of the HogQL; empty when only the layout differs (see ``hogql_text``)."""
    new = file.query.strip()
    if remote.hogql is not None and normalized(remote.hogql) == normalized(new):
        return ""
    # PostHog's text laid out like the file, so the diff shows the changed lines only.
    old = reflow(remote.hogql or "", like=new)
    label = f"{name} (PostHog, version {remote.current_version})"
    if remote.hogql is None:
        label += f", a {remote.query.get('kind', 'non-HogQL')} query"
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), label, str(file.path), lineterm="")
    return "\n".join(lines)


def _variable_changes(remote: Endpoint, file: EndpointFile) -> tuple[str, ...]:
    old, new = remote_defaults(remote), file.defaults
    out = []
    for code in sorted(set(old) | set(new)):
        if code not in new:
            out.append(f"{code}: removed (default was {old[code]!r})")
        elif code not in old:
            out.append(f"{code}: added, default {new[code]!r}")
        elif old[code] != new[code]:
            out.append(f"{code}: default {old[code]!r} -> {new[code]!r}")
    return tuple(out)


def compare(file: EndpointFile, remote: Endpoint, deployed: Deployed | None) -> EndpointChange:
    """The change that makes ``remote`` match ``file``."""
    query_diff = _diff(file.name, remote, file)
    variables = _variable_changes(remote, file)
    current = remote_settings(remote)
    settings = {key: (current[key], value) for key, value in file.settings.items() if current[key] != value}
    action: Action = "update" if query_diff or variables or settings else "unchanged"
    return EndpointChange(file.name, action, file, remote, deployed, query_diff, variables, settings)


def build_plan(
    files: Sequence[EndpointFile], client: EndpointsClient, lock: Lock, *, prune: bool = False
) -> Plan:
    """Read the project's endpoints (one list request) and compare them with ``files``."""
    project = project_key(client.host, client.project_id)
    deployed = lock.deployed(project)
    remote = {endpoint.name: endpoint for endpoint in client.list_endpoints()}
    changes: list[EndpointChange] = []
    for file in files:
        existing = remote.get(file.name)
        if existing is None:
            changes.append(
                EndpointChange(
                    file.name,
                    "create",
                    file,
                    None,
                    deployed.get(file.name),
                    setting_changes=created_settings(file),
                )
            )
        else:
            changes.append(compare(file, existing, deployed.get(file.name)))
    described = {file.name for file in files}
    for name in sorted(set(remote) - described):
        if name in deployed:
            changes.append(
                EndpointChange(name, "delete" if prune else "removed", None, remote[name], deployed[name])
            )
        else:
            changes.append(EndpointChange(name, "unmanaged", None, remote[name]))
    return Plan(project, tuple(changes), prune)


def created_settings(file: EndpointFile) -> dict[str, tuple[Any, Any]]:
    """The settings a create sets beyond PostHog's defaults, as ``{key: (None, value)}`` for display."""
    return {key: (None, value) for key, value in file.settings.items() if value != DEFAULT_SETTINGS[key]}
