"""The component's `endpoint_files` folder: each file an endpoint asset deployed from it.

A file is read like a saved endpoint (its description, HogQL and variable defaults), goes
through the same `endpoints:` overrides as discovered endpoints, and keeps the file as the
spec's `source`, so its asset has the file's code version and deploys the file when
materialized. Reading files makes no request. A bad file is skipped with a warning naming
the file and line, so one typo does not take the code location down.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from endpoints_dagster.as_code.files import EndpointFile, EndpointFileError, parse_endpoint_file
from endpoints_dagster.discovery.selection import EndpointOverride, SkippedEndpoint, override_for, spec_for
from endpoints_dagster.discovery.state import EndpointState, VariableState
from endpoints_dagster.specs import EndpointSpec

__all__ = ["file_specs"]


def _state_of(file: EndpointFile) -> EndpointState:
    return EndpointState(
        name=file.name,
        description=file.description or None,
        hogql=file.query,
        query_kind="HogQLQuery",
        is_active=file.is_active,
        variables=tuple(VariableState(code, value=value) for code, value in file.defaults.items()),
        is_materialized=file.is_materialized,
        cache_age_seconds=file.cache_age_seconds,
    )


def file_specs(
    folder: Path, overrides: Mapping[str, EndpointOverride], *, refresh: str
) -> tuple[list[EndpointSpec], list[SkippedEndpoint]]:
    """One spec per readable ``*.sql`` file of ``folder``; the others as skipped, with file and line."""
    if not folder.is_dir():
        return [], [
            SkippedEndpoint(str(folder), "endpoint_files: no such folder (one NAME.sql per endpoint)")
        ]
    specs: list[EndpointSpec] = []
    skipped: list[SkippedEndpoint] = []
    for path in sorted(folder.glob("*.sql")):
        try:
            file = parse_endpoint_file(path)
        except EndpointFileError as exc:
            skipped.append(SkippedEndpoint(path.stem, str(exc)))
            continue
        override = override_for(file.name, overrides)
        if override is not None and override.version is not None:
            skipped.append(
                SkippedEndpoint(file.name, f"{path}: pins a version, but it runs the version it deploys")
            )
            continue
        try:
            spec = spec_for(_state_of(file), override, refresh=refresh)
        except ValueError as exc:
            skipped.append(SkippedEndpoint(file.name, f"{path}: {exc}"))
            continue
        specs.append(dataclasses.replace(spec, source=file))
    return specs, skipped
