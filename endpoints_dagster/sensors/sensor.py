"""`build_endpoint_execution_sensor`: react in Dagster when an endpoint executes in PostHog.

A dashboard, an app or another pipeline runs an endpoint with an API key; PostHog records
when (`POST endpoints/last_execution_times/`). The sensor asks for those times, chunk by
chunk, compares them with its cursor and, for every endpoint whose time moved forward,
launches a run (`run_key` = endpoint and execution time, so a repeated tick or a restarted
daemon never launches a second run for the same execution) and/or reports the execution as
a materialization of an external asset standing for the endpoint in PostHog, which makes
downstream `AutomationCondition.eager()` assets react without a job.

The algorithm and the cursor live in `_cursor.py`; this module is the Dagster side.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Optional, Union

import dagster as dg

from endpoints_dagster.client.errors import PostHogEndpointsError
from endpoints_dagster.client.hints import close_names
from endpoints_dagster.resource import PostHogEndpointsResource
from endpoints_dagster.sensors.cursor import (
    CursorState,
    EndpointExecution,
    TickOutcome,
    parse_cursor,
    run_tick,
)
from endpoints_dagster.sensors.own_runs import (
    ENDPOINT_TAG,
    EXTERNAL_TAG,
    EndpointRef,
    WatchList,
    checked_name,
    dagster_run_of,
)
from endpoints_dagster.specs import EndpointSpec

__all__ = [
    "DEFAULT_EXTERNAL_KEY_PREFIX",
    "ENDPOINT_TAG",
    "EXECUTED_AT_TAG",
    "EndpointExecution",
    "EndpointSensorError",
    "build_endpoint_execution_sensor",
    "build_endpoint_external_assets",
]

#: Tag on runs: the execution time (UTC ISO 8601) that triggered the run.
EXECUTED_AT_TAG = "posthog/executed_at"
#: Key prefix of the external assets: `["posthog", "executions", name]`. Distinct from the
#: endpoint assets' `["posthog", name]`, which hold rows landed in your warehouse.
DEFAULT_EXTERNAL_KEY_PREFIX: tuple[str, ...] = ("posthog", "executions")
DEFAULT_SENSOR_NAME = "posthog_endpoint_executions"
#: Dagster cuts a sensor evaluation after 60 s by default (DAGSTER_SENSOR_GRPC_TIMEOUT_SECONDS);
#: starting no chunk that could end after 40 s leaves room for the run requests.
DEFAULT_TICK_BUDGET_SECONDS = 40.0
DEFAULT_CHUNK_SIZE = 200
#: A request (retries included) is cut at 1.25 x the budget: 50 s of Dagster's default 60 s.
HARD_DEADLINE_FACTOR = 1.25

RunConfigFn = Callable[[EndpointExecution], Mapping[str, Any]]
TagsFn = Callable[[EndpointExecution], Mapping[str, str]]
AssetSelectionFn = Callable[[EndpointExecution], Optional[Sequence[dg.AssetKey]]]


class EndpointSensorError(PostHogEndpointsError):
    """A tick could not read the last execution times; the cursor is unchanged."""


def build_endpoint_external_assets(
    endpoints: Sequence[Union[str, EndpointSpec]],
    *,
    key_prefix: Sequence[str] = DEFAULT_EXTERNAL_KEY_PREFIX,
    group_name: Optional[str] = "posthog",
) -> list[dg.AssetSpec]:
    """External assets standing for endpoints in PostHog; each execution is a materialization.

    Add them to your `Definitions`, make downstream assets depend on them with
    `AutomationCondition.eager()`, and give them to `build_endpoint_execution_sensor(...,
    observe=True)`: every new execution of an endpoint is reported as an `AssetMaterialization`
    of its external asset (an `AssetObservation` would not make an eager downstream react).
    To react only when an endpoint's *result* changed, observe it instead with
    `build_endpoint_observations` (a data version per observation, a cached run, no rows stored)
    and give downstream assets `endpoint_data_changed()`.

    Example:
        .. code-block:: python

            executions = build_endpoint_external_assets(["daily_signups"])

            @dg.asset(deps=executions, automation_condition=dg.AutomationCondition.eager())
            def signups_report() -> None: ...

            sensor = build_endpoint_execution_sensor(executions, observe=True)
            defs = dg.Definitions(assets=[*executions, signups_report], sensors=[sensor], ...)
    """
    specs = []
    for item in endpoints:
        name = item.name if isinstance(item, EndpointSpec) else checked_name(item, "endpoints")
        specs.append(
            dg.AssetSpec(
                key=dg.AssetKey([*key_prefix, name]),
                description=(
                    f"Executions of the PostHog endpoint `{name}` by dashboards, apps or API calls made "
                    "with a key. Materialized by the endpoint execution sensor, not by Dagster runs."
                ),
                group_name=group_name,
                kinds={"posthog"},
                metadata={ENDPOINT_TAG: name},
                # Asset tag values are limited to 63 characters; names may have 128.
                tags={EXTERNAL_TAG: "true", **({ENDPOINT_TAG: name} if len(name) <= 63 else {})},
            )
        )
    return specs


def build_endpoint_execution_sensor(
    endpoints: Sequence[EndpointRef],
    *,
    job: Optional[Union[dg.JobDefinition, dg.UnresolvedAssetJobDefinition]] = None,
    target: Optional[Union[dg.AssetSelection, Sequence[Any]]] = None,
    name: str = DEFAULT_SENSOR_NAME,
    resource_key: str = "posthog",
    minimum_interval_seconds: int = 60,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
    description: Optional[str] = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    trigger_on_first_check: bool = False,
    run_config_fn: Optional[RunConfigFn] = None,
    tags_fn: Optional[TagsFn] = None,
    asset_selection_fn: Optional[AssetSelectionFn] = None,
    observe: bool = False,
    external_key_prefix: Sequence[str] = DEFAULT_EXTERNAL_KEY_PREFIX,
    tick_budget_seconds: float = DEFAULT_TICK_BUDGET_SECONDS,
    ignore_dagster_runs: bool = True,
) -> dg.SensorDefinition:
    """A sensor that launches a run (and/or reports an asset event) when an endpoint executes.

    Every endpoint whose last execution time moved forward since its previous check gives one
    `RunRequest` with `run_key="{name}:{executed_at}"` and the tags `posthog/endpoint` and
    `posthog/executed_at`; several executions between two ticks give one request, for the
    latest. When PostHog cannot be reached or answers an error, the tick fails with the
    client's message and the cursor stays as it was, so nothing is skipped.

    Args:
        endpoints: What to watch: endpoint names, `EndpointSpec`s, the assets returned by
            `build_endpoint_assets` (every endpoint in them, found by their `posthog/endpoint`
            metadata), or the external assets of `build_endpoint_external_assets`.
        job: The job to launch per new execution. Give `job` or `target`, or neither with `observe`.
        target: An `AssetSelection` (or a list of asset keys) to materialize per new execution.
        name: The sensor's name.
        resource_key: Key of the `PostHogEndpointsResource` in your `Definitions`.
        minimum_interval_seconds: Seconds between ticks.
        default_status: `STOPPED` (default) or `RUNNING` when the definitions load.
        description: Shown in the Dagster UI.
        chunk_size: Names per `last_execution_times` request: 1,000 names cost 5 requests at 200.
            PostHog answers at most 100 rows per request; when an answer is cut there, the names
            missing from it are asked again, so a chunk where over 100 endpoints ran costs more.
        trigger_on_first_check: The first check of an endpoint (the first tick, or an endpoint
            added to the watch list later) only records a baseline. Set this to launch a run for
            its latest execution instead.
        run_config_fn: Builds the run config of the run for one execution.
        tags_fn: Extra run tags for one execution (`posthog/endpoint` and `posthog/executed_at`
            are always set and win).
        asset_selection_fn: The asset keys to materialize for one execution, a subset of
            `target` (for example only what depends on that endpoint); `None` keeps the target.
        observe: Report each new execution as an `AssetMaterialization` of the endpoint's
            external asset (see `build_endpoint_external_assets`), so downstream assets with
            `AutomationCondition.eager()` react. Works with or without `job`/`target`.
        external_key_prefix: Key prefix of the external assets of endpoints given by name, spec
            or endpoint asset (external asset specs given in `endpoints` keep their own keys).
        tick_budget_seconds: A tick starts no further chunk when the slowest chunk so far would
            end after this many seconds, and the next tick continues where it stopped. Keep it
            well under Dagster's sensor timeout (60 s unless DAGSTER_SENSOR_GRPC_TIMEOUT_SECONDS).
        ignore_dagster_runs: Dagster materializing an endpoint asset executes the endpoint too.
            Such executions (within a run that materialized one of the endpoint's assets: those
            given in `endpoints`, or any asset of the code location whose `posthog/endpoint`
            metadata names it) are recorded but trigger nothing. Without this, a sensor whose
            target re-materializes the endpoint asset would launch a run per tick forever.

    Example:
        .. code-block:: python

            report_job = dg.define_asset_job("report_job", selection="kpi_report")
            sensor = build_endpoint_execution_sensor(
                ["daily_signups", "revenue_by_country"],
                job=report_job,
                minimum_interval_seconds=300,
                run_config_fn=lambda e: {"ops": {"kpi_report": {"config": {"endpoint": e.name}}}},
            )
    """
    watched = WatchList(endpoints, external_key_prefix)
    if not watched.names:
        raise ValueError(f"sensor {name!r}: `endpoints` names no endpoint to watch")
    if job is not None and target is not None:
        raise ValueError(f"sensor {name!r}: give either job= or target=, not both")
    if job is None and target is None and not observe:
        raise ValueError(
            f"sensor {name!r} has nothing to do: give job= or target= to launch runs, "
            "or observe=True to report executions as asset events"
        )
    if asset_selection_fn is not None and target is None:
        raise ValueError(f"sensor {name!r}: asset_selection_fn picks assets within target=; give target=")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"sensor {name!r}: chunk_size must be an integer of at least 1, got {chunk_size!r}")
    if not tick_budget_seconds > 0:
        raise ValueError(
            f"sensor {name!r}: tick_budget_seconds must be positive, got {tick_budget_seconds!r}"
        )

    sensor_target: Any = job
    if target is not None:
        sensor_target = target if isinstance(target, dg.AssetSelection) else dg.AssetSelection.assets(*target)
    names = watched.names

    @dg.sensor(
        name=name,
        target=sensor_target,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=description
        or f"Reacts when one of {len(names)} PostHog endpoint(s) is executed outside Dagster.",
        required_resource_keys={resource_key},
    )
    def _sensor(context: dg.SensorEvaluationContext, **_resources: Any) -> dg.SensorResult:
        # (`**_resources`: direct invocation passes required resources as keyword arguments.)
        resource: PostHogEndpointsResource = getattr(context.resources, resource_key)
        state, problems = parse_cursor(context.cursor)
        if problems:
            context.log.warning(
                f"Sensor {name!r}: {'; '.join(problems)}. Starting a new baseline for the affected "
                "endpoint(s): executions since the last good tick do not launch runs."
            )
        outcome = _check(
            context, resource, names, state, name, chunk_size, tick_budget_seconds, trigger_on_first_check
        )
        if ignore_dagster_runs and outcome.executions:
            _drop_own_executions(context, outcome, watched.materializing_keys(context.repository_def))
        run_requests = []
        if sensor_target is not None:
            run_requests = [
                _run_request(e, run_config_fn, tags_fn, asset_selection_fn) for e in outcome.executions
            ]
        asset_events = (
            [_materialization(e, watched.external_keys[e.name]) for e in outcome.executions]
            if observe
            else []
        )
        summary = outcome.describe(context.last_tick_completion_time, tick_budget_seconds)
        unknown = _unknown_endpoints(
            resource, [n for n in outcome.checked if outcome.cursor.seen.get(n) is None]
        )
        if unknown:
            warning = unknown_endpoints_text(unknown)
            context.log.warning(f"Sensor {name!r}: {warning}")
            summary = f"{summary} {warning}"
        context.log.info(f"Sensor {name!r}: {summary}")
        return dg.SensorResult(
            run_requests=run_requests,
            asset_events=asset_events,
            skip_reason=None if outcome.executions else summary,
            cursor=outcome.cursor.to_json(),
        )

    return _sensor


def _check(
    context: dg.SensorEvaluationContext,
    resource: PostHogEndpointsResource,
    names: Sequence[str],
    state: CursorState,
    sensor_name: str,
    chunk_size: int,
    budget: float,
    trigger_on_first_check: bool,
) -> TickOutcome:
    with resource.get_client(logger=context.log) as client:
        # A hard stop for each request and its retries, past the budget but before Dagster's own
        # timeout, so a hanging PostHog fails the tick with the client's message.
        deadline = time.monotonic() + budget * HARD_DEADLINE_FACTOR
        fetch: Callable[[Sequence[str]], Mapping[str, datetime]] = functools.partial(
            client.last_execution_times, deadline=deadline
        )
        try:
            return run_tick(
                names,
                state,
                fetch,
                chunk_size=chunk_size,
                budget_seconds=budget,
                trigger_on_first_check=trigger_on_first_check,
            )
        except PostHogEndpointsError as exc:
            # Raising fails the tick visibly and Dagster keeps the previous cursor; chunks that
            # succeeded before are simply checked again next tick.
            raise EndpointSensorError(
                f"Sensor {sensor_name!r} could not read the last execution times of {len(names):,} "
                f"endpoint(s): {exc} The cursor is unchanged, so no execution is skipped: the next tick "
                "checks again.",
                endpoint=exc.endpoint,
                status_code=exc.status_code,
                code=exc.code,
                detail=exc.detail,
                attr=exc.attr,
                request_method=exc.request_method,
                request_url=exc.request_url,
            ) from exc


#: How long a project's endpoint names are trusted when telling unknown watched names apart.
NAMES_TTL_SECONDS = 600.0
# Keyed by the names asked about too: a watch list that changes (an endpoint just created) is read afresh.
_known_names: dict[tuple[str, int, frozenset[str]], tuple[float, frozenset[str]]] = {}
_known_names_lock = threading.Lock()


def unknown_endpoints_text(unknown: Mapping[str, Sequence[str]]) -> str:
    """``Unknown endpoint(s): 'x' (did you mean 'y'?) ...``: what a misspelled watch list says."""
    items = [
        f"{name!r}" + (f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else "")
        for name, close in unknown.items()
    ]
    return (
        f"Unknown endpoint(s): {', '.join(items)}. They do not exist in the project, so they never fire; "
        "fix the names given to the sensor."
    )


def _unknown_endpoints(resource: PostHogEndpointsResource, never_ran: Sequence[str]) -> dict[str, list[str]]:
    """Watched names that never ran and are not endpoints of the project, each with close names.

    Asked only when some watched endpoint has never run, and at most every `NAMES_TTL_SECONDS`
    per project, set of such names and process (one list request); best effort: a failed list
    says nothing.
    """
    if not never_ran:
        return {}
    try:
        with resource.get_client() as client:
            cache_key = (client.host, client.project_id, frozenset(never_ran))
            with _known_names_lock:
                cached = _known_names.get(cache_key)
            if cached is None or time.monotonic() - cached[0] > NAMES_TTL_SECONDS:
                names = frozenset(e.name for e in client.list_endpoints())
                cached = (time.monotonic(), names)
                with _known_names_lock:
                    _known_names[cache_key] = cached
    except Exception:  # the tick's own request succeeded; this hint is not worth failing it
        return {}
    known = cached[1]
    return {name: close_names(name, known) for name in never_ran if name not in known}


def _drop_own_executions(
    context: dg.SensorEvaluationContext, outcome: TickOutcome, keys: Mapping[str, set[dg.AssetKey]]
) -> None:
    """Move executions made by Dagster's own runs from `executions` to `ignored`."""
    candidates = [e for e in outcome.executions if keys.get(e.name)]
    if not candidates:
        return
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # a test context without an instance: nothing to ask
        return
    kept = []
    for execution in outcome.executions:
        run_id = dagster_run_of(instance, keys.get(execution.name, ()), execution.executed_at)
        if run_id is None:
            kept.append(execution)
        else:
            outcome.ignored.append((execution, run_id))
    outcome.executions = kept


def _run_request(
    execution: EndpointExecution,
    run_config_fn: Optional[RunConfigFn],
    tags_fn: Optional[TagsFn],
    asset_selection_fn: Optional[AssetSelectionFn],
) -> dg.RunRequest:
    tags = {str(k): str(v) for k, v in (tags_fn(execution) if tags_fn else {}).items()}
    # Ours win: they are how a run is traced back to the execution that launched it.
    tags.update({ENDPOINT_TAG: execution.name, EXECUTED_AT_TAG: execution.executed_at_iso})
    selection = asset_selection_fn(execution) if asset_selection_fn else None
    return dg.RunRequest(
        run_key=execution.run_key,
        run_config=dict(run_config_fn(execution)) if run_config_fn else {},
        tags=tags,
        asset_selection=list(selection) if selection is not None else None,
    )


def _materialization(execution: EndpointExecution, key: dg.AssetKey) -> dg.AssetMaterialization:
    metadata: dict[str, Any] = {
        ENDPOINT_TAG: execution.name,
        EXECUTED_AT_TAG: dg.MetadataValue.timestamp(execution.executed_at),
    }
    if execution.previous is not None:
        metadata["posthog/previous_executed_at"] = dg.MetadataValue.timestamp(execution.previous)
    return dg.AssetMaterialization(
        asset_key=key,
        description=f"Endpoint '{execution.name}' executed in PostHog at {execution.executed_at_iso}.",
        metadata=metadata,
    )
