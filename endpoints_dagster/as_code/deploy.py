"""Deploy one endpoint file: make PostHog hold what the file says, and say what changed.

This is what materializing a file-backed endpoint asset does before it runs the endpoint: the
file is the truth, so a version made by hand in PostHog is replaced (``plan`` in CI is where
drift is shown; a Dagster run cannot stop to ask). The lock file is not read or written: it
records what ``apply`` deployed from the repository.

Example::

    deployment = deploy_endpoint_file(parse_endpoint_file("endpoints/daily_signups.sql"), client)
    deployment.version, deployment.action   # (2, 'new version')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.client.errors import EndpointNotFoundError

from .apply import apply_change
from .files import EndpointFile
from .plan import EndpointChange, compare, created_settings

__all__ = ["Deployment", "deploy_endpoint_file"]


@dataclass(frozen=True)
class Deployment:
    """The outcome of deploying one file.

    ``action``: ``created``, ``new version`` (query or variable defaults changed), ``settings``
    (no new version) or ``unchanged``; ``version`` is the endpoint's current version afterwards.
    """

    name: str
    version: int
    action: str
    code_version: str
    query_diff: str = ""
    variable_changes: tuple[str, ...] = ()
    setting_changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """One line for a run log, e.g. ``endpoint 'x': deployed version 2 (new version)``."""
        if self.action == "unchanged":
            return f"endpoint '{self.name}': PostHog already holds its file (version {self.version})"
        return f"endpoint '{self.name}': deployed version {self.version} ({self.action})"


def deploy_endpoint_file(file: EndpointFile, client: EndpointsClient) -> Deployment:
    """Create or update the endpoint of ``file`` so that PostHog matches it (nothing sent if it does)."""
    try:
        remote = client.get_endpoint(file.name)
    except EndpointNotFoundError:
        remote = None
    if remote is None:
        change = EndpointChange(file.name, "create", file, setting_changes=created_settings(file))
    else:
        change = compare(file, remote, None)
    endpoint = apply_change(change, client)
    version = (endpoint.current_version if endpoint else None) or 1
    if change.action == "create":
        action = "created"
    elif change.new_version:
        action = "new version"
    elif change.action == "update":
        action = "settings"
    else:
        action = "unchanged"
    return Deployment(
        file.name,
        version,
        action,
        file.code_version,
        change.query_diff,
        change.variable_changes,
        dict(change.setting_changes),
    )
