"""The lock file: which version of each endpoint the folder last deployed, per PostHog project.

``endpoints.lock.json`` sits in the folder and is committed with it. It is how ``plan`` tells a
version made in PostHog by hand (drift) from one the folder made, and which endpoints ``--prune``
may delete (only those the folder deployed: an endpoint it never managed is never deleted).
One folder may deploy to several projects (staging, production): each has its own section.

Example::

    {
      "format": 1,
      "projects": {
        "https://eu.posthog.com/project/12345": {
          "daily_signups": {"version": 3, "code_version": "5f2c0a9b1e7d4c11"}
        }
      }
    }
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import LOCK_FILE_NAME

__all__ = ["Deployed", "Lock", "project_key"]

_FORMAT = 1


def project_key(host: str, project_id: int) -> str:
    """The section of a project in the lock file, e.g. ``https://eu.posthog.com/project/12345``."""
    return f"{host.rstrip('/')}/project/{project_id}"


@dataclass(frozen=True)
class Deployed:
    """What the folder last deployed of one endpoint."""

    version: int
    code_version: str


class Lock:
    """The lock file of a folder, read once, changed in memory, written by :meth:`save`."""

    def __init__(self, path: Path, projects: dict[str, dict[str, Deployed]] | None = None) -> None:
        self.path = path
        self._projects = projects or {}

    @classmethod
    def for_folder(cls, folder: str | Path, path: str | Path | None = None) -> Lock:
        """The lock of ``folder`` (``folder/endpoints.lock.json`` unless ``path``); empty if absent."""
        lock_path = Path(path) if path is not None else Path(folder) / LOCK_FILE_NAME
        if not lock_path.exists():
            return cls(lock_path)
        try:
            data = json.loads(lock_path.read_text(encoding="utf-8"))
            projects = {
                project: {
                    name: Deployed(int(entry["version"]), str(entry.get("code_version", "")))
                    for name, entry in endpoints.items()
                }
                for project, endpoints in data["projects"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"{lock_path}: not a lock file this version can read ({exc}). Restore it from git, "
                "or delete it to start again (drift and --prune then know nothing of earlier deploys)."
            ) from None
        return cls(lock_path, projects)

    def deployed(self, project: str) -> dict[str, Deployed]:
        """``{name: Deployed}`` of one project (a copy)."""
        return dict(self._projects.get(project, {}))

    def record(self, project: str, name: str, deployed: Deployed | None) -> None:
        """Record a deploy of ``name`` (``None``: the folder no longer manages it)."""
        section = self._projects.setdefault(project, {})
        if deployed is None:
            section.pop(name, None)
        else:
            section[name] = deployed

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "projects": {
                project: {
                    name: {"version": d.version, "code_version": d.code_version}
                    for name, d in sorted(endpoints.items())
                }
                for project, endpoints in sorted(self._projects.items())
                if endpoints
            },
        }

    def save(self) -> None:
        """Write the lock (sorted, one key per line, so a diff in review shows what a deploy changed)."""
        text = json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"
        if not self.path.exists() or self.path.read_text(encoding="utf-8") != text:
            self.path.write_text(text, encoding="utf-8")
