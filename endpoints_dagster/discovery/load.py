"""Discovery without components: `load_endpoint_specs` turns a saved endpoint list into specs.

The same state file and the same selection/override rules as `PostHogEndpointsComponent`,
for projects that write their definitions in Python:

1. Save the endpoint list once (a deploy step, a script, CI): `save_endpoint_state(resource,
   "posthog_endpoints.json")`, or `python -m endpoints_dagster.discovery.load posthog_endpoints.json`.
2. In `definitions.py`: `build_endpoint_assets(load_endpoint_specs("posthog_endpoints.json"))`.
   Reading the file makes no network call.

Passing a resource or client instead of a path reads the list from PostHog on the spot: fine in
a script, but it makes loading your code location depend on PostHog being up.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, Optional, Union

from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.client.errors import PostHogEndpointsError
from endpoints_dagster.discovery.selection import (
    EndpointOverride,
    EndpointSelection,
    EndpointSkippedWarning,
    plan_specs,
)
from endpoints_dagster.discovery.state import EndpointsState
from endpoints_dagster.resource import PostHogEndpointsResource
from endpoints_dagster.specs import EndpointSpec

__all__ = ["fetch_endpoint_state", "load_endpoint_specs", "save_endpoint_state"]

StateSource = Union[str, "os.PathLike[str]", EndpointsState, PostHogEndpointsResource, EndpointsClient]


def fetch_endpoint_state(source: Union[PostHogEndpointsResource, EndpointsClient]) -> EndpointsState:
    """Read every endpoint of the project (inactive ones too) from PostHog: one list request."""
    if isinstance(source, PostHogEndpointsResource):
        with source.get_client() as client:
            return fetch_endpoint_state(client)
    endpoints = source.list_endpoints()
    return EndpointsState.from_endpoints(endpoints, project_id=str(source.project_id), host=source.host)


def save_endpoint_state(
    source: Union[PostHogEndpointsResource, EndpointsClient], path: Union[str, os.PathLike[str]]
) -> EndpointsState:
    """Read the endpoint list from PostHog and write it to `path` (atomically).

    Example:
        .. code-block:: python

            from endpoints_dagster import PostHogEndpointsResource
            from endpoints_dagster.discovery.load import save_endpoint_state

            save_endpoint_state(
                PostHogEndpointsResource(project_id="12345", personal_api_key=os.environ["KEY"]),
                "posthog_endpoints.json",
            )
    """
    state = fetch_endpoint_state(source)
    state.write(path)
    return state


def load_endpoint_specs(
    source: StateSource,
    *,
    include: Sequence[str] = ("*",),
    exclude: Sequence[str] = (),
    include_inactive: bool = False,
    overrides: Optional[Mapping[str, EndpointOverride]] = None,
    refresh: str = "force_async",
    on_skip: Literal["warn", "raise", "ignore"] = "warn",
) -> list[EndpointSpec]:
    """Endpoint specs for `build_endpoint_assets`, from a saved endpoint list.

    Each spec carries the endpoint's description, HogQL and saved variable defaults, so the
    assets show them in the Dagster UI.

    Args:
        source: A state file (written by `save_endpoint_state` or by the component's
            `dg utils refresh-defs-state`), a parsed `EndpointsState`, or a resource/client to
            read the list from PostHog now (a network call).
        include: Endpoint names or shell globs to take (default: all).
        exclude: Names or globs to leave out.
        include_inactive: Also take endpoints that are switched off in PostHog.
        overrides: `{name or glob: EndpointOverride}`; variables may use `PARTITION_START`,
            `PARTITION_END` or `PARTITION_KEY` to take the run's partition.
        refresh: Refresh mode of every spec unless its override sets one.
        on_skip: What to do with an endpoint that cannot become an asset (a variable it does
            not have, a pinned version that does not exist, a name PostHog refuses): warn and
            leave it out (default), raise `ValueError`, or leave it out silently.

    Example:
        .. code-block:: python

            import dagster as dg
            from endpoints_dagster import build_endpoint_assets
            from endpoints_dagster.components import PARTITION_END, PARTITION_START, EndpointOverride
            from endpoints_dagster.discovery.load import load_endpoint_specs

            specs = load_endpoint_specs(
                "posthog_endpoints.json",
                exclude=["internal_*"],
                overrides={
                    "daily_signups": EndpointOverride(
                        partitions_def=dg.DailyPartitionsDefinition(start_date="2026-09-01"),
                        variables={"since": PARTITION_START, "until": PARTITION_END},
                    )
                },
            )
            posthog_assets = build_endpoint_assets(specs)
    """
    if on_skip not in ("warn", "raise", "ignore"):
        raise ValueError(f"on_skip must be 'warn', 'raise' or 'ignore', got {on_skip!r}")
    if isinstance(source, EndpointsState):
        state = source
    elif isinstance(source, (PostHogEndpointsResource, EndpointsClient)):
        state = fetch_endpoint_state(source)
    else:
        state = EndpointsState.read(source)
    for name, override in (overrides or {}).items():
        if not isinstance(override, EndpointOverride):
            raise TypeError(f"overrides[{name!r}] must be an EndpointOverride, got {type(override).__name__}")
    plan = plan_specs(
        state,
        selection=EndpointSelection(tuple(include), tuple(exclude), include_inactive),
        overrides=overrides,
        refresh=refresh,
    )
    if plan.skipped and on_skip == "raise":
        raise ValueError("some endpoints cannot become assets:\n" + "\n".join(f"- {s}" for s in plan.skipped))
    if on_skip == "warn":
        for skipped in plan.skipped:
            warnings.warn(f"load_endpoint_specs skipped {skipped}", EndpointSkippedWarning, stacklevel=2)
        for pattern in plan.unused_overrides:
            warnings.warn(
                f"load_endpoint_specs: overrides[{pattern!r}] matches no endpoint",
                EndpointSkippedWarning,
                stacklevel=2,
            )
    return list(plan.specs)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m endpoints_dagster.discovery.load OUT.json`: save the endpoint list of the project
    named by POSTHOG_HOST / POSTHOG_PROJECT_ID / POSTHOG_PERSONAL_API_KEY."""
    parser = argparse.ArgumentParser(
        prog="python -m endpoints_dagster.discovery.load", description=main.__doc__
    )
    parser.add_argument("out", type=Path, help="where to write the endpoint list (JSON)")
    parser.add_argument("--host", default=os.environ.get("POSTHOG_HOST", "https://us.posthog.com"))
    parser.add_argument("--project-id", default=os.environ.get("POSTHOG_PROJECT_ID"))
    parser.add_argument("--api-key-env", default="POSTHOG_PERSONAL_API_KEY", help="variable holding the key")
    args = parser.parse_args(argv)
    key = os.environ.get(args.api_key_env)
    if not args.project_id or not key:
        missing = [
            n
            for n, v in (("POSTHOG_PROJECT_ID (or --project-id)", args.project_id), (args.api_key_env, key))
            if not v
        ]
        print(f"error: set {' and '.join(missing)}", file=sys.stderr)
        return 2
    resource = PostHogEndpointsResource(host=args.host, project_id=str(args.project_id), personal_api_key=key)
    try:
        state = save_endpoint_state(resource, args.out)
    except (PostHogEndpointsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    active = sum(1 for e in state.endpoints if e.is_active)
    print(
        f"saved {len(state.endpoints)} endpoint(s) ({active} active) of project {state.project_id} to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
