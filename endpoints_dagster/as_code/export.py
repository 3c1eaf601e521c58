"""Export: write a project's endpoints as files, and the lock, so that ``plan`` then shows no changes.

Each HogQL endpoint becomes ``NAME.sql`` with a header holding the settings that differ from
PostHog's defaults and every variable with its type and default. Insight endpoints (queries of
another kind than ``HogQLQuery``) have no HogQL text to write and are skipped, each named.

Example::

    with EndpointsClient(host, project_id, key) as client:
        result = export_endpoints(client, "endpoints/")
    result.written   # ['daily_signups', 'top_events', ...]
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.client.models import Endpoint

from .files import DEFAULT_SETTINGS, infer_type, parse_endpoint_text
from .lock import Deployed, Lock, project_key
from .plan import remote_settings

__all__ = ["ExportResult", "export_endpoints", "render_endpoint_file"]


@dataclass
class ExportResult:
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "name: why"


def render_endpoint_file(endpoint: Endpoint) -> str:
    """The text of ``NAME.sql`` for a HogQL endpoint: header, blank line, query.

    >>> from endpoints_dagster import Endpoint
    >>> print(render_endpoint_file(Endpoint("n", query={"kind": "HogQLQuery", "query": "SELECT 1"},
    ...                                     cache_age_seconds=3600)), end="")
    -- cache_age_seconds: 3600
    <BLANKLINE>
    SELECT 1
    """
    header: dict[str, Any] = {}
    settings = remote_settings(endpoint)
    if settings["description"]:
        header["description"] = settings["description"]
    if endpoint.variables:
        header["variables"] = {
            v.code_name: {"type": infer_type(v.value), "default": v.value} for v in endpoint.variables
        }
    header.update(
        {
            key: value
            for key, value in settings.items()
            if key != "description" and value != DEFAULT_SETTINGS[key]
        }
    )
    if not header and (endpoint.hogql or "").lstrip().startswith("--"):
        header["is_active"] = True  # a header of its own, so the query's leading comment stays in the query
    lines = []
    if header:
        lines = [f"-- {line}".rstrip() for key, value in header.items() for line in _yaml_lines(key, value)]
        lines.append("")
    lines.append((endpoint.hogql or "").strip())
    return "\n".join(lines) + "\n"


def _yaml_lines(key: str, value: Any) -> list[str]:
    """One header key as YAML lines; each variable on one line (``since: {type: Date, default: ...}``)."""
    if key == "variables":
        return [
            "variables:",
            *(
                f"  {code}: "
                + yaml.safe_dump(
                    spec, sort_keys=False, allow_unicode=True, default_flow_style=True, width=10_000
                ).strip()
                for code, spec in value.items()
            ),
        ]
    text: str = yaml.safe_dump({key: value}, allow_unicode=True, default_flow_style=False, width=100)
    return text.splitlines()


def export_endpoints(
    client: EndpointsClient,
    folder: str | Path,
    *,
    match: Sequence[str] = ("*",),
    lock_path: str | Path | None = None,
) -> ExportResult:
    """Write every endpoint whose name matches a glob of ``match`` into ``folder``, and record it in the lock.

    Existing files of the same names are overwritten (the folder is usually under version control).
    Each written file is parsed back before it is kept, so an export never writes a file ``plan`` refuses.
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    lock = Lock.for_folder(root, lock_path)
    project = project_key(client.host, client.project_id)
    result = ExportResult()
    for endpoint in sorted(client.list_endpoints(), key=lambda e: e.name):
        if not any(fnmatch.fnmatchcase(endpoint.name, pattern) for pattern in match):
            continue
        if endpoint.hogql is None:
            result.skipped.append(
                f"{endpoint.name}: a {endpoint.query.get('kind')} query, not HogQL: no file to write"
            )
            continue
        path = root / f"{endpoint.name}.sql"
        text = render_endpoint_file(endpoint)
        parse_endpoint_text(path, text)  # what export writes, plan must read
        path.write_text(text, encoding="utf-8")
        lock.record(
            project, endpoint.name, Deployed(endpoint.current_version or 1, _code_version(path, text))
        )
        result.written.append(endpoint.name)
    lock.save()
    return result


def _code_version(path: Path, text: str) -> str:
    return parse_endpoint_text(path, text).code_version
