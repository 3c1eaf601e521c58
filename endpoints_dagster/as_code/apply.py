"""Apply: carry out a plan, then record in the lock what the folder deployed.

Idempotent: applying an applied folder again finds every endpoint unchanged and sends nothing
(PostHog makes no version for a query it already holds either). Drift stops the whole apply
before anything is sent, unless ``overwrite_drift``. The lock is written after every endpoint,
so an apply cut short by an error still records what it did.

Example::

    plan = build_plan(files, client, lock, prune=True)
    outcome = apply_plan(plan, client, lock)
    outcome.versions   # {'daily_signups': 3, ...}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.client.errors import PostHogEndpointsError
from endpoints_dagster.client.models import Endpoint

from .lock import Deployed, Lock
from .plan import EndpointChange, Plan, desired_query

__all__ = ["ApplyResult", "DriftError", "apply_change", "apply_plan"]


class DriftError(PostHogEndpointsError):
    """Endpoints were changed in PostHog after the folder last deployed them; nothing was sent."""


@dataclass
class ApplyResult:
    """What an apply did: ``done`` lines for the terminal and the version of every managed endpoint."""

    done: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.done)


def apply_change(change: EndpointChange, client: EndpointsClient) -> Endpoint | None:
    """Send what one change needs (nothing for ``unchanged``); the endpoint as PostHog now holds it."""
    file = change.file
    if change.action == "create" and file is not None:
        return client.create_endpoint(
            file.name,
            desired_query(file),
            description=file.description or None,
            is_active=file.is_active,
            cache_age_seconds=file.cache_age_seconds,
            is_materialized=file.is_materialized or None,
        )
    if change.action == "update" and file is not None:
        fields: dict[str, Any] = {key: new for key, (_, new) in change.setting_changes.items()}
        if change.new_version:
            fields["query"] = desired_query(file, change.remote)
        return client.update_endpoint(file.name, **fields)
    if change.action == "delete":
        client.delete_endpoint(change.name)
        return None
    return change.remote


def apply_plan(
    plan: Plan, client: EndpointsClient, lock: Lock, *, overwrite_drift: bool = False
) -> ApplyResult:
    """Carry out ``plan`` in order (creates, updates, deletes) and save ``lock`` as it goes.

    Raises :class:`DriftError` before sending anything if an endpoint to change was changed in
    PostHog since the folder deployed it, unless ``overwrite_drift``.
    """
    if plan.drifted and not overwrite_drift:
        names = ", ".join(
            f"{c.name} (PostHog at version {c.remote.current_version if c.remote else '?'}, "
            f"folder deployed {c.deployed.version if c.deployed else '?'})"
            for c in plan.drifted
        )
        raise DriftError(
            f"Nothing applied: changed in PostHog since this folder deployed them: {names}. Bring the change "
            "into the file (export to see it), or apply with --overwrite-drift to replace it with the file."
        )
    result = ApplyResult()
    order = {"create": 0, "update": 1, "delete": 2}
    try:
        for change in sorted(plan.changes, key=lambda c: order.get(c.action, 3)):
            endpoint = apply_change(change, client)
            if change.action == "delete":
                lock.record(plan.project, change.name, None)
                result.done.append(f"deleted {change.name}")
            elif change.file is not None and endpoint is not None:
                version = endpoint.current_version or 1
                lock.record(plan.project, change.name, Deployed(version, change.file.code_version))
                result.versions[change.name] = version
                if change.action == "create":
                    result.done.append(f"created {change.name} (version {version})")
                elif change.action == "update":
                    note = "new version" if change.new_version else "settings only"
                    result.done.append(f"updated {change.name} (version {version}, {note})")
            elif change.action == "removed" and change.remote and change.remote.current_version:
                result.versions[change.name] = change.remote.current_version
    finally:
        lock.save()
    return result
