"""Dagster integration for PostHog Endpoints.

The public API is re-exported here; everything else is an implementation detail.

- `PostHogEndpointsResource` builds an `EndpointsClient` (the plain-Python API client).
- `build_endpoint_assets` turns `EndpointSpec`s into assets that land typed DataFrames.
- `build_endpoint_execution_sensor` launches runs when endpoints execute in PostHog.
- `PostHogEndpointsComponent` does all of it from YAML; `load_endpoint_specs` from Python.
"""

__version__ = "0.1.0"

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
from .sensors import build_endpoint_execution_sensor, build_endpoint_external_assets
from .specs import EndpointSpec, PartitionVariables
from .translator import PostHogEndpointsTranslator

__all__ = [
    "AuthenticationError",
    "Endpoint",
    "EndpointNotFoundError",
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
