"""The YAML way: `PostHogEndpointsComponent` turns a PostHog project's endpoints into assets.

`dg utils refresh-defs-state` saves the endpoint list (`state.py`); `plan.py` turns it into
`EndpointSpec`s (shared with `load_endpoint_specs`); `model.py` is the YAML schema.
"""

from .component import PostHogEndpointsComponent
from .plan import (
    EndpointSkippedWarning,
    PARTITION_END,
    PARTITION_KEY,
    PARTITION_START,
    EndpointOverride,
    EndpointSelection,
    SkippedEndpoint,
)
from .scaffolder import PostHogEndpointsScaffolder
from .state import EndpointsState, EndpointState, EndpointStateError, VariableState

__all__ = [
    "PostHogEndpointsComponent",
    "PostHogEndpointsScaffolder",
    "EndpointSkippedWarning",
    "EndpointsState",
    "EndpointState",
    "EndpointStateError",
    "VariableState",
    "EndpointOverride",
    "EndpointSelection",
    "SkippedEndpoint",
    "PARTITION_START",
    "PARTITION_END",
    "PARTITION_KEY",
]
