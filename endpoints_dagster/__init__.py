"""Dagster integration for PostHog Endpoints.

The public API is re-exported here; everything else is an implementation detail.

- `PostHogEndpointsResource` builds an `EndpointsClient` (the plain-Python API client).
- `build_endpoint_assets` turns `EndpointSpec`s into assets that land typed DataFrames.
- `build_endpoint_execution_sensor` launches runs when endpoints execute in PostHog.
- `PostHogEndpointsComponent` does all of it from YAML; `load_endpoint_specs` from Python.

The layers are folders: `client/` and `frames/` know no Dagster; `resource`, `specs`, `translator`,
`metadata`, `assets/`, `sensors/`, `discovery/` and `components/` are the Dagster layer; `local/` is
a separate PostHog Endpoints server that imports nothing from the rest.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from endpoints_dagster._version import __version__


def _public_names() -> dict[str, str]:
    """Name -> module, read from the ``TYPE_CHECKING`` imports below: the one list of public names."""
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    guard = next(
        node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    return {
        alias.asname or alias.name: node.module
        for node in guard.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }


# Names are imported on first use (PEP 562), so that `python -m endpoints_dagster.local` and
# plain client users do not pay for importing Dagster.
_EXPORTS = _public_names()
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'endpoints_dagster' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:  # static analysers and IDEs see the real imports
    from endpoints_dagster.as_code.specs import load_endpoint_file_specs
    from endpoints_dagster.assets.factory import build_endpoint_assets
    from endpoints_dagster.automation import endpoint_data_changed
    from endpoints_dagster.client.client import EndpointsClient
    from endpoints_dagster.client.errors import (
        AuthenticationError,
        EndpointNotFoundError,
        GatewayTimeoutError,
        InvalidEndpointNameError,
        InvalidRequestError,
        PaginationError,
        PermissionDeniedError,
        PostHogConnectionError,
        PostHogEndpointsError,
        QueryCancelledError,
        QueryError,
        QueryFailedError,
        QueryTimeoutError,
        RateLimitedError,
        ServerError,
        TooManyRowsError,
    )
    from endpoints_dagster.client.models import (
        Endpoint,
        EndpointVariable,
        EndpointVersion,
        QueryProgress,
        QueryStatus,
        RunResult,
    )
    from endpoints_dagster.components import PostHogEndpointsComponent
    from endpoints_dagster.discovery.load import load_endpoint_specs, save_endpoint_state
    from endpoints_dagster.frames.extras import MissingExtraError
    from endpoints_dagster.resource import PostHogEndpointsResource
    from endpoints_dagster.sensors.observations import build_endpoint_observations
    from endpoints_dagster.sensors.sensor import (
        EndpointExecution,
        EndpointSensorError,
        build_endpoint_execution_sensor,
        build_endpoint_external_assets,
    )
    from endpoints_dagster.specs import EndpointSpec, PartitionVariables
    from endpoints_dagster.translator import PostHogEndpointsTranslator
