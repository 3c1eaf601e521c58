"""`build_endpoint_observations`: endpoints as triggers, observed by data version, rows not stored.

An observation runs the endpoint in PostHog's cheapest way (``refresh="blocking"``: served from
PostHog's cache while it is fresh, on both API dialects), hashes the rows as the pages arrive and
keeps none of them (``frame_type="none"``), and records the result's data version on an observable
source asset. Downstream assets with `endpoint_data_changed()` then run only when the rows changed.

This is the data-aware sibling of `build_endpoint_external_assets`: those stand for *executions*
of an endpoint (reported by the execution sensor, whatever they returned), these for its *result*.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Optional, Union

import dagster as dg

from endpoints_dagster.assets.fanout import run_concurrently
from endpoints_dagster.client.errors import PostHogEndpointsError
from endpoints_dagster.client.models import RunResult
from endpoints_dagster.resource import PostHogEndpointsResource
from endpoints_dagster.sensors.own_runs import ENDPOINT_TAG
from endpoints_dagster.specs import ASSET_REFRESH_MODES, EndpointSpec, coerce_spec

__all__ = ["DEFAULT_OBSERVED_KEY_PREFIX", "OBSERVE_REFRESH", "build_endpoint_observations"]

#: Key prefix of the observed results: `["posthog", "observed", name]`.
DEFAULT_OBSERVED_KEY_PREFIX: tuple[str, ...] = ("posthog", "observed")
#: A cached run where the dialect allows it (`cache` on PostHog today); computed on a cache miss.
OBSERVE_REFRESH = "blocking"


def build_endpoint_observations(
    endpoints: Sequence[Union[str, EndpointSpec]],
    *,
    key_prefix: Sequence[str] = DEFAULT_OBSERVED_KEY_PREFIX,
    refresh: str = OBSERVE_REFRESH,
    resource_key: str = "posthog",
    group_name: Optional[str] = "posthog",
    max_concurrency: int = 8,
    name: str = "posthog_endpoint_observations",
) -> dg.AssetsDefinition:
    """Observable source assets recording each endpoint's data version, not its rows.

    Observe them on a schedule (or from the UI); each observation runs the endpoint with `refresh`
    (its variables and pinned version from the spec, whose `refresh` is not used) and reports an
    `ObserveResult` with the result's `DataVersion`, row count and whether PostHog served it from
    cache. A failing endpoint records nothing; the others still do, then the step fails naming it.

    Args:
        endpoints: Endpoint names or specs (for variables and a pinned version).
        key_prefix: Asset keys are `[*key_prefix, name]`.
        refresh: The run's refresh mode; `blocking` asks for PostHog's cache (`cache` on PostHog today).
        resource_key: Key of the `PostHogEndpointsResource` in your `Definitions`.
        group_name: Asset group of the observations.
        max_concurrency: Endpoints observed at once.
        name: The op's name.

    Example:
        .. code-block:: python

            observed = build_endpoint_observations(["revenue_by_country"])
            observe = dg.ScheduleDefinition(
                name="observe_posthog", cron_schedule="*/15 * * * *",
                target=dg.AssetSelection.assets(observed),
            )

            @dg.asset(deps=[observed], automation_condition=endpoint_data_changed())
            def revenue_report() -> None: ...
    """
    if refresh not in ASSET_REFRESH_MODES:
        raise ValueError(f"refresh={refresh!r} is not one of {', '.join(ASSET_REFRESH_MODES)}")
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
    specs = [coerce_spec(e) for e in endpoints]
    by_key = {dg.AssetKey([*key_prefix, s.name]): s for s in specs}
    if len(by_key) != len(specs):
        raise ValueError("an endpoint is listed twice; observe each endpoint once")
    asset_specs = [
        dg.AssetSpec(
            key=key,
            description=(
                f"The result of the PostHog endpoint `{spec.name}`, observed by its data version "
                f"(refresh={refresh}); the rows are not stored."
            ),
            group_name=group_name,
            kinds={"posthog"},
            metadata={ENDPOINT_TAG: spec.name},
        )
        for key, spec in by_key.items()
    ]

    @dg.multi_observable_source_asset(
        name=name, specs=asset_specs, can_subset=True, required_resource_keys={resource_key}
    )
    def _observe(context) -> Iterator[dg.ObserveResult]:
        resource: PostHogEndpointsResource = getattr(context.resources, resource_key)
        selected = [(key, spec) for key, spec in by_key.items() if key in context.selected_asset_keys]
        yield from _observations(context, resource, selected, refresh, max_concurrency)

    return _observe


def _observations(
    context: Any,
    resource: PostHogEndpointsResource,
    selected: Sequence[tuple[dg.AssetKey, EndpointSpec]],
    refresh: str,
    max_concurrency: int,
) -> Iterator[dg.ObserveResult]:
    failures: list[tuple[str, BaseException]] = []
    with resource.get_client(logger=context.log) as client:

        def work(
            item: tuple[dg.AssetKey, EndpointSpec], cancel: threading.Event, log_line: Callable[[str], None]
        ) -> RunResult:
            spec = item[1]
            return client.run_endpoint(
                spec.name,
                variables=dict(spec.variables) or None,
                refresh=refresh,
                version=spec.version,
                cancel_event=cancel,
                frame_type="none",  # hashed page by page, nothing kept
            )

        for outcome in run_concurrently(
            selected, work, max_concurrency=max_concurrency, log=context.log.info
        ):
            key, spec = outcome.job
            if outcome.error is not None:
                failures.append((spec.name, outcome.error))
                context.log.error(f"observing endpoint '{spec.name}' failed: {outcome.error}")
                continue
            result: RunResult = outcome.result
            context.log.info(
                f"endpoint '{spec.name}': {result.row_count:,} rows, data version {result.data_version[:19]}"
                + (" (from PostHog's cache)" if result.is_cached else "")
            )
            yield dg.ObserveResult(
                asset_key=key,
                data_version=dg.DataVersion(result.data_version),
                metadata=_metadata(result, refresh),
            )
    if failures:
        raise dg.Failure(
            description=f"{len(failures)} of {len(selected)} endpoint observation(s) failed:\n"
            + "\n".join(f"- {name}: {error}" for name, error in failures),
            allow_retries=any(not isinstance(error, PostHogEndpointsError) for _, error in failures),
        )


def _metadata(result: RunResult, refresh: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "dagster/row_count": dg.MetadataValue.int(result.row_count),
        "posthog/refresh": refresh,
        "posthog/is_cached": dg.MetadataValue.bool(bool(result.is_cached)),
        "posthog/pages": dg.MetadataValue.int(result.pages or 1),
    }
    if result.endpoint_version is not None:
        metadata["posthog/version"] = dg.MetadataValue.int(result.endpoint_version)
    if result.last_refresh is not None:
        metadata["posthog/last_refresh"] = dg.MetadataValue.timestamp(result.last_refresh)
    return metadata
