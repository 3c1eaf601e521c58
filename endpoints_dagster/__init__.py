"""Dagster integration for PostHog Endpoints.

The public API is re-exported here; everything else is an implementation detail.

- `PostHogEndpointsResource` builds an `EndpointsClient` (the plain-Python API client).
- `build_endpoint_assets` turns `EndpointSpec`s into assets that land typed DataFrames.
- `build_endpoint_execution_sensor` launches runs when endpoints execute in PostHog.
- `PostHogEndpointsComponent` does all of it from YAML; `load_endpoint_specs` from Python.
"""

from typing import TYPE_CHECKING

__version__ = "0.1.0"

# Names are imported on first use (PEP 562), so that `python -m endpoints_dagster.local` and
# plain client users do not pay for importing Dagster.
_EXPORTS = {
    "build_endpoint_assets": "assets",
    "EndpointsClient": "client",
    "PostHogEndpointsComponent": "components",
    "load_endpoint_specs": "discovery",
    **dict.fromkeys(
        [
            "AuthenticationError",
            "EndpointNotFoundError",
            "InvalidEndpointNameError",
            "InvalidRequestError",
            "PaginationError",
            "PermissionDeniedError",
            "PostHogConnectionError",
            "PostHogEndpointsError",
            "QueryCancelledError",
            "QueryError",
            "QueryFailedError",
            "QueryTimeoutError",
            "RateLimitedError",
            "ServerError",
            "TooManyRowsError",
        ],
        "errors",
    ),
    **dict.fromkeys(
        ["Endpoint", "EndpointVariable", "EndpointVersion", "QueryProgress", "QueryStatus", "RunResult"], "models"
    ),
    "PostHogEndpointsResource": "resource",
    "build_endpoint_execution_sensor": "sensors",
    "EndpointExecution": "sensors",
    "EndpointSensorError": "sensors",
    "build_endpoint_external_assets": "sensors",
    "EndpointSpec": "specs",
    "PartitionVariables": "specs",
    "PostHogEndpointsTranslator": "translator",
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'endpoints_dagster' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "AuthenticationError",
    "Endpoint",
    "EndpointExecution",
    "EndpointNotFoundError",
    "EndpointSensorError",
    "EndpointSpec",
    "EndpointVariable",
    "EndpointVersion",
    "EndpointsClient",
    "InvalidEndpointNameError",
    "InvalidRequestError",
    "PaginationError",
    "PartitionVariables",
    "PermissionDeniedError",
    "PostHogConnectionError",
    "PostHogEndpointsComponent",
    "PostHogEndpointsError",
    "PostHogEndpointsResource",
    "PostHogEndpointsTranslator",
    "QueryCancelledError",
    "QueryError",
    "QueryFailedError",
    "QueryProgress",
    "QueryStatus",
    "QueryTimeoutError",
    "RateLimitedError",
    "RunResult",
    "ServerError",
    "TooManyRowsError",
    "build_endpoint_assets",
    "build_endpoint_execution_sensor",
    "build_endpoint_external_assets",
    "load_endpoint_specs",
]

if TYPE_CHECKING:  # static analysers and IDEs see the real imports
    from .assets import build_endpoint_assets
    from .client import EndpointsClient
    from .components import PostHogEndpointsComponent
    from .discovery import load_endpoint_specs
    from .errors import (
        AuthenticationError,
        EndpointNotFoundError,
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
    from .models import Endpoint, EndpointVariable, EndpointVersion, QueryProgress, QueryStatus, RunResult
    from .resource import PostHogEndpointsResource
    from .sensors import (
        EndpointExecution,
        EndpointSensorError,
        build_endpoint_execution_sensor,
        build_endpoint_external_assets,
    )
    from .specs import EndpointSpec, PartitionVariables
    from .translator import PostHogEndpointsTranslator
