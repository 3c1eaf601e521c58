"""`build_endpoint_assets`: one Dagster asset per PostHog endpoint, landing typed DataFrames.

Endpoints that share a partitions definition become one subsettable multi-asset, so the ones
selected together in a run execute concurrently in one step (bounded by `max_concurrency`,
and across runs by a Dagster `pool`). Unlike spec-only integrations that return `Nothing`,
every asset returns its DataFrame (pandas, Polars or Arrow: `frame_type`) through the IO manager,
and reports the result's data version, so downstream assets are stale only when the rows changed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import dagster as dg

from endpoints_dagster.as_code.deploy import Deployment, deploy_endpoint_file
from endpoints_dagster.assets.fanout import ProgressThrottle, run_concurrently
from endpoints_dagster.client.errors import PostHogEndpointsError
from endpoints_dagster.client.models import RunResult
from endpoints_dagster.frames.extras import check_frame_type
from endpoints_dagster.frames.landing import dates_as_dates, signed_where_fits
from endpoints_dagster.metadata import (
    column_schema,
    deployment_metadata,
    drift_check_result,
    materialization_metadata,
    materialized_metadata,
    previous_schema,
    recorded_schemas,
)
from endpoints_dagster.resource import PostHogEndpointsResource
from endpoints_dagster.specs import EndpointSpec, coerce_spec
from endpoints_dagster.translator import PostHogEndpointsTranslator

SCHEMA_CHECK_NAME = "schema_unchanged"
DEFAULT_MAX_CONCURRENCY = 8


@dataclass(frozen=True)
class _Planned:
    """One endpoint as the asset step sees it: its spec and the asset key it lands in."""

    spec: EndpointSpec
    key: dg.AssetKey
    frame_type: str = "pandas"


def build_endpoint_assets(
    endpoints: Sequence[EndpointSpec | str],
    *,
    resource_key: str = "posthog",
    translator: Optional[PostHogEndpointsTranslator] = None,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    pool: Optional[str] = None,
    schema_checks: bool = True,
    name: Optional[str] = None,
    frame_type: str = "pandas",
) -> list[dg.AssetsDefinition]:
    """Assets that run PostHog endpoints and return their rows as typed DataFrames.

    Each materialization reports a `DataVersion` of the result (columns, types and rows, hashed
    as the pages arrive): a refresh that returns the same rows leaves downstream assets fresh,
    and `endpoint_data_changed()` runs a downstream asset only when they changed.

    Args:
        endpoints: Endpoint specs, or bare endpoint names for the saved defaults.
        resource_key: Key of the `PostHogEndpointsResource` in your `Definitions`.
        translator: Decides asset keys, groups, owners, tags and descriptions.
        max_concurrency: Endpoints run at once within one step.
        pool: A Dagster concurrency pool that caps these steps across runs.
        schema_checks: Add a `schema_unchanged` asset check (WARN) per endpoint asset.
        name: Base op name; derived from the endpoints when omitted.
        frame_type: What the assets return unless their spec says otherwise: `pandas` (default),
            `polars` (needs the `polars` extra) or `arrow` (a `pyarrow.Table`, the `arrow` extra).
            Pick an IO manager that stores that type.

    Returns:
        One multi-asset per distinct partitions definition among the endpoints.

    Example:
        .. code-block:: python

            import dagster as dg
            from endpoints_dagster import (
                EndpointSpec, PartitionVariables, PostHogEndpointsResource, build_endpoint_assets,
            )

            posthog_assets = build_endpoint_assets(
                [
                    "top_events",
                    EndpointSpec("revenue_by_country", variables={"plan": "pro"}),
                    EndpointSpec(
                        "daily_signups",
                        partitions_def=dg.DailyPartitionsDefinition(start_date="2026-09-01"),
                        partition_variables=PartitionVariables(start="since", end="until"),
                    ),
                ]
            )
            defs = dg.Definitions(
                assets=posthog_assets,
                resources={"posthog": PostHogEndpointsResource(
                    project_id=dg.EnvVar("POSTHOG_PROJECT_ID"),
                    personal_api_key=dg.EnvVar("POSTHOG_PERSONAL_API_KEY"),
                )},
            )
    """
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
    check_frame_type(frame_type)
    translator = translator or PostHogEndpointsTranslator()
    specs = [coerce_spec(s) for s in endpoints]
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ValueError(
                f"endpoint {spec.name!r} is listed twice; give each asset one spec "
                "(use different asset keys through the translator for two variants)"
            )
        seen.add(spec.name)

    # One multi-asset per partitions definition and backfill policy: both belong to the step.
    groups: list[tuple[Optional[dg.PartitionsDefinition], list[EndpointSpec]]] = []
    for spec in specs:
        for partitions_def, members in groups:
            if partitions_def == spec.partitions_def and members[0].backfill_policy == spec.backfill_policy:
                members.append(spec)
                break
        else:
            groups.append((spec.partitions_def, [spec]))

    return [
        _build_multi_asset(
            members,
            partitions_def=partitions_def,
            resource_key=resource_key,
            translator=translator,
            max_concurrency=max_concurrency,
            pool=pool,
            schema_checks=schema_checks,
            name=name,
            index=index,
            count=len(groups),
            frame_type=frame_type,
        )
        for index, (partitions_def, members) in enumerate(groups)
    ]


def _op_name(base: Optional[str], planned: Sequence[_Planned], index: int, count: int) -> str:
    """A readable op name: it is what the run timeline and the run log show for the step.

    Op names must be unique in a code location, and the same endpoint may be built twice under
    different keys (two projects told apart by key prefix), so a key other than the default
    `["posthog", name]` goes into the name.
    """
    if base:
        return base if count == 1 else f"{base}_{index}"
    head = planned[0]
    if head.key == dg.AssetKey(["posthog", head.spec.name]):
        first = head.spec.name
    else:
        first = "__".join(head.key.path)
    first = re.sub(r"[^A-Za-z0-9_]", "_", first)
    if len(planned) == 1:
        return f"posthog_endpoint_{first}"
    return f"posthog_{first}_and_{len(planned) - 1}_more"


def _build_multi_asset(
    members: Sequence[EndpointSpec],
    *,
    partitions_def: Optional[dg.PartitionsDefinition],
    resource_key: str,
    translator: PostHogEndpointsTranslator,
    max_concurrency: int,
    pool: Optional[str],
    schema_checks: bool,
    name: Optional[str],
    index: int,
    count: int,
    frame_type: str,
) -> dg.AssetsDefinition:
    planned: list[_Planned] = []
    asset_specs: list[dg.AssetSpec] = []
    for spec in members:
        asset_spec = translator.get_asset_spec(spec)
        if partitions_def is not None:
            asset_spec = asset_spec.replace_attributes(partitions_def=partitions_def)
        # Rows are data, not a side effect: they go through the IO manager. A failed endpoint
        # simply yields no output, so the others still land (`skippable`).
        asset_spec = asset_spec.replace_attributes(skippable=True)
        # Without an IO manager key, Dagster types a spec-built output as `Nothing` and refuses
        # the DataFrame; a key set by the translator is kept.
        if "dagster/io_manager_key" not in asset_spec.metadata:
            asset_spec = asset_spec.with_io_manager_key("io_manager")
        asset_specs.append(asset_spec)
        planned.append(_Planned(spec, asset_spec.key, spec.frame_type or frame_type))
    check_specs = [
        dg.AssetCheckSpec(
            SCHEMA_CHECK_NAME,
            asset=p.key,
            description="Columns and types match the previous materialization.",
        )
        for p in planned
        if schema_checks
    ]
    by_key = {p.key: p for p in planned}
    name = _op_name(name, planned, index, count)

    io_manager_keys = {a.key: str(a.metadata["dagster/io_manager_key"]) for a in asset_specs}

    @dg.multi_asset(
        name=name,
        backfill_policy=_backfill_policy(members, partitions_def),
        specs=asset_specs,
        check_specs=check_specs,
        can_subset=True,
        partitions_def=partitions_def,
        required_resource_keys={resource_key},
        pool=pool,
        op_tags={"kind": "posthog"},
    )
    # No annotation on `context`: with `from __future__ import annotations` it would be the
    # string "dg.AssetExecutionContext", which Dagster's op validation refuses.
    def _endpoint_assets(context) -> Iterator[Any]:
        resource: PostHogEndpointsResource = getattr(context.resources, resource_key)
        selected = [by_key[key] for key in by_key if key in context.selected_asset_keys]
        # A check run on its own (the UI's "Execute check") compares the last two materializations.
        for check_key in context.selected_asset_check_keys:
            if check_key.asset_key not in context.selected_asset_keys:
                yield _stored_drift_result(context.instance, check_key)
        if selected:
            _check_range_storable(context, [io_manager_keys[p.key] for p in selected])
            yield from _materialize(context, resource, selected, max_concurrency, schema_checks)

    return _endpoint_assets


def _backfill_policy(
    members: Sequence[EndpointSpec], partitions_def: Optional[dg.PartitionsDefinition]
) -> Optional[dg.BackfillPolicy]:
    """The members' own policy, else one run per range where the endpoint takes a time window."""
    if members[0].backfill_policy is not None:
        return members[0].backfill_policy
    # A time-window range backfills in one run: the endpoint takes the whole window at once.
    time_based = isinstance(partitions_def, dg.TimeWindowPartitionsDefinition) and not any(
        m.partition_variables and m.partition_variables.key for m in members
    )
    return dg.BackfillPolicy.single_run() if time_based else None


def _check_range_storable(context: dg.AssetExecutionContext, io_manager_keys: Sequence[str]) -> None:
    """Fail before any query when the run covers several partitions its IO manager cannot store at once.

    Dagster's filesystem IO managers (the default one included) store one partition per output and
    would fail only after the endpoint ran.
    """
    if not context.has_partition_key_range or len(context.partition_keys) < 2:
        return
    for key in dict.fromkeys(io_manager_keys):
        io_manager = getattr(context.resources, key, None)
        if isinstance(io_manager, dg.UPathIOManager):
            raise dg.Failure(
                description=(
                    f"This run covers {len(context.partition_keys)} partitions "
                    f"({context.partition_key_range.start} to {context.partition_key_range.end}) in one "
                    f"step, but the IO manager '{key}' ({type(io_manager).__name__}) stores one partition "
                    "per output. Nothing was queried. Either set "
                    "backfill_policy=dg.BackfillPolicy.multi_run(1) on the EndpointSpec (`backfill: "
                    "multi_run` under the endpoint in the component's YAML) for one run per partition, "
                    "or use an IO manager that stores a range (DuckDB, Snowflake, BigQuery, with "
                    "metadata={'partition_expr': '<date column>'})."
                ),
                allow_retries=False,
            )


def _materialize(
    context: dg.AssetExecutionContext,
    resource: PostHogEndpointsResource,
    selected: Sequence[_Planned],
    max_concurrency: int,
    schema_checks: bool,
) -> Iterator[Any]:
    partition_key = context.partition_key if context.has_partition_key else None
    window = _time_window(context)
    variables = {p.key: p.spec.variables_for(partition_key, window) for p in selected}
    selected_checks = context.selected_asset_check_keys
    failures: list[tuple[_Planned, BaseException]] = []

    with resource.get_client(logger=context.log) as client:

        def work(
            item: _Planned, cancel: threading.Event, log_line: Callable[[str], None]
        ) -> tuple[RunResult, Any, Optional[Deployment], dict[str, Any]]:
            spec = item.spec
            # A file-backed endpoint is deployed first, then the version deployed is the one run.
            deployment = deploy_endpoint_file(spec.source, client) if spec.source is not None else None
            if deployment is not None:
                log_line(deployment.summary)
            endpoint = client.ensure_materialized(spec.name) if spec.materialize else None
            log_line(
                f"running endpoint '{spec.name}' (refresh={spec.refresh}, variables={variables[item.key]})"
            )
            result = client.run_endpoint(
                spec.name,
                variables=variables[item.key] or None,
                refresh=spec.refresh,
                version=deployment.version if deployment is not None else spec.version,
                on_progress=ProgressThrottle(f"endpoint '{spec.name}'", log_line),
                cancel_event=cancel,
                frame_type=item.frame_type,
            )
            # Converted here, so that rows that cannot become a frame fail this endpoint only.
            frame = result.to_frame(item.frame_type)
            if item.frame_type == "pandas":
                frame = dates_as_dates(frame, result.types or [])
                keep = resource.keep_unsigned if spec.keep_unsigned is None else spec.keep_unsigned
                frame = frame if keep else signed_where_fits(frame)
            return result, frame, deployment, materialized_metadata(result, endpoint)

        context.log.info(
            f"materializing {len(selected)} PostHog endpoint(s), up to {max_concurrency} at once"
            + (f", partition {partition_key}" if partition_key else "")
        )
        for outcome in run_concurrently(
            selected, work, max_concurrency=max_concurrency, log=context.log.info
        ):
            item = outcome.job
            if outcome.error is not None:
                failures.append((item, outcome.error))
                context.log.error(f"endpoint '{item.spec.name}' failed: {outcome.error}")
                continue
            result, frame, deployment, materialized = outcome.result
            schema = column_schema(result)
            check_results = []
            if schema_checks and dg.AssetCheckKey(item.key, SCHEMA_CHECK_NAME) in selected_checks:
                previous = previous_schema(context.instance, item.key)
                check_results.append(drift_check_result(item.key, SCHEMA_CHECK_NAME, previous, schema))
            metadata = materialization_metadata(
                endpoint=item.spec.name,
                result=result,
                frame=frame,
                variables=variables[item.key],
                refresh=item.spec.refresh,
                ui_url=client.ui_url_for(item.spec.name),
            )
            if deployment is not None:
                metadata.update(deployment_metadata(deployment))
            metadata.update(materialized)
            context.log.info(
                f"endpoint '{item.spec.name}' returned {len(frame):,} rows x {len(result.columns)} columns"
                + (" (cached)" if result.is_cached else "")
            )
            yield dg.MaterializeResult(
                asset_key=item.key,
                value=frame,
                metadata=metadata,
                check_results=check_results,
                data_version=dg.DataVersion(result.data_version),
            )

    if failures:
        summary = "\n".join(f"- {item.spec.name}: {error}" for item, error in failures)
        raise dg.Failure(
            description=(
                f"{len(failures)} of {len(selected)} PostHog endpoint(s) failed; the others landed, "
                f"and the failed ones keep their previous materialization:\n{summary}"
            ),
            metadata={"failed_endpoints": [item.spec.name for item, _ in failures]},
            allow_retries=any(not isinstance(error, PostHogEndpointsError) for _, error in failures),
        )


def _stored_drift_result(instance: dg.DagsterInstance, check_key: dg.AssetCheckKey) -> dg.AssetCheckResult:
    schemas = recorded_schemas(instance, check_key.asset_key, limit=2)
    if not schemas or schemas[0] is None:
        return dg.AssetCheckResult(
            asset_key=check_key.asset_key,
            check_name=check_key.name,
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            description="no materialization with a column schema yet: nothing to compare",
        )
    return drift_check_result(
        check_key.asset_key, check_key.name, schemas[1] if len(schemas) > 1 else None, schemas[0]
    )


def _time_window(context: dg.AssetExecutionContext) -> Optional[tuple[Any, Any]]:
    """The run's time window: one partition's, or a whole range's in a single-run backfill."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    if not isinstance(context.assets_def.partitions_def, dg.TimeWindowPartitionsDefinition):
        return None
    window = context.partition_time_window
    return (window.start, window.end)
