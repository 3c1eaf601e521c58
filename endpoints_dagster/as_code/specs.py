"""Endpoint files as Dagster endpoint specs: each file becomes an asset deployed from it.

An asset built from a file has the file's code version, so changing the file shows the asset
stale in Dagster ("code version changed"); materializing it deploys the file (a new version in
PostHog when the query changed) and runs the version it deployed. Loading makes no request.

Example::

    import dagster as dg
    from endpoints_dagster import build_endpoint_assets, load_endpoint_file_specs

    assets = build_endpoint_assets(
        load_endpoint_file_specs("endpoints/", endpoints={"daily_signups": {"group_name": "growth"}})
    )
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from endpoints_dagster.as_code.files import EndpointFile, load_endpoint_files
from endpoints_dagster.specs import EndpointSpec

__all__ = ["endpoint_spec_from_file", "load_endpoint_file_specs"]


def endpoint_spec_from_file(file: EndpointFile, **fields: Any) -> EndpointSpec:
    """The spec of one file; ``fields`` are other `EndpointSpec` fields (refresh, partitions, key, ...)."""
    return EndpointSpec(
        file.name,
        **{
            "description": file.description or None,
            "hogql": file.query,
            "saved_variables": file.defaults,
            **fields,
            "source": file,
        },
    )


def load_endpoint_file_specs(
    folder: str | Path, *, endpoints: Mapping[str, Mapping[str, Any]] | None = None, **defaults: Any
) -> list[EndpointSpec]:
    """One `EndpointSpec` per file of ``folder``; ``defaults`` apply to all, ``endpoints`` per name.

    Every file is checked first (see `load_endpoint_files`); a bad file fails the code location
    load with its file and line, since deploying a file Dagster cannot read is never wanted.
    """
    files = load_endpoint_files(folder)
    unknown = sorted(set(endpoints or {}) - {file.name for file in files})
    if unknown:
        raise ValueError(f"endpoints {unknown} have no file in {folder}; the files are named NAME.sql.")
    return [
        endpoint_spec_from_file(file, **{**defaults, **(endpoints or {}).get(file.name, {})})
        for file in files
    ]
