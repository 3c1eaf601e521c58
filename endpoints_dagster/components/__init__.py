"""The YAML way: `PostHogEndpointsComponent` turns a PostHog project's endpoints into assets.

`dg utils refresh-defs-state` saves the endpoint list (`discovery/state.py`); `discovery/selection.py`
turns it into `EndpointSpec`s (shared with `load_endpoint_specs`); `model.py` is the YAML schema.
"""

from endpoints_dagster.components.component import PostHogEndpointsComponent
from endpoints_dagster.components.scaffolder import PostHogEndpointsScaffolder
from endpoints_dagster.discovery.selection import (
    PARTITION_END,
    PARTITION_KEY,
    PARTITION_START,
    EndpointOverride,
    EndpointSelection,
    EndpointSkippedWarning,
    SkippedEndpoint,
)
from endpoints_dagster.discovery.state import EndpointsState, EndpointState, EndpointStateError, VariableState

__all__ = [
    "PARTITION_END",
    "PARTITION_KEY",
    "PARTITION_START",
    "EndpointOverride",
    "EndpointSelection",
    "EndpointSkippedWarning",
    "EndpointState",
    "EndpointStateError",
    "EndpointsState",
    "PostHogEndpointsComponent",
    "PostHogEndpointsScaffolder",
    "SkippedEndpoint",
    "VariableState",
]
