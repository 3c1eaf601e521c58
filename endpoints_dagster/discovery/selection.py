"""From saved endpoint state to `EndpointSpec`s: selection, per-endpoint overrides, skips.

Shared by the YAML component and `load_endpoint_specs`, so both turn the same state into the
same assets. Nothing here reads files or the network.

A problem that belongs to one endpoint (a name PostHog would refuse, an override naming a
variable the endpoint does not have, a pinned version that does not exist) becomes a
`SkippedEndpoint` with the reason, never an exception that takes every endpoint down.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Optional

import dagster as dg

from endpoints_dagster.discovery.state import EndpointsState, EndpointState
from endpoints_dagster.specs import ASSET_REFRESH_MODES, EndpointSpec, PartitionVariables

PARTITION_PARTS = ("start", "end", "key")


class EndpointSkippedWarning(UserWarning):
    """An endpoint (or the whole saved state) could not become assets; the others load."""


@dataclass(frozen=True)
class PartitionValue:
    """Stands for a value taken from the run's partition: `start`/`end` of the time window, or
    the partition `key`. In YAML: `"{{ partition.start }}"`; in Python: `PARTITION_START`."""

    part: str

    def __post_init__(self) -> None:
        if self.part not in PARTITION_PARTS:
            raise ValueError(
                f"partition.{self.part} does not exist; use partition.start, partition.end or partition.key"
            )

    def __str__(self) -> str:
        # Shows up only when a template mixes text with the placeholder; `spec_for` refuses that.
        return f"<partition.{self.part}>"


PARTITION_START = PartitionValue("start")
PARTITION_END = PartitionValue("end")
PARTITION_KEY = PartitionValue("key")


@dataclass(frozen=True)
class EndpointSelection:
    """Which endpoints of the project become assets.

    Args:
        include: Names or shell globs (`daily_*`); an endpoint must match one.
        exclude: Names or globs; an endpoint matching one is left out.
        include_inactive: Also take endpoints switched off in PostHog (they answer 404 when run).
    """

    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()
    include_inactive: bool = False

    def matches(self, endpoint: EndpointState) -> bool:
        if not endpoint.is_active and not self.include_inactive:
            return False
        if not any(fnmatch.fnmatchcase(endpoint.name, pattern) for pattern in self.include):
            return False
        return not any(fnmatch.fnmatchcase(endpoint.name, pattern) for pattern in self.exclude)


@dataclass(frozen=True)
class EndpointOverride:
    """What to change for one endpoint (or every endpoint matching a glob).

    Args:
        variables: `{code_name: value}`; a value may be `PARTITION_START`, `PARTITION_END` or
            `PARTITION_KEY` to take it from the run's partition.
        partitions_def: Partition the asset (daily/weekly/monthly windows or static keys).
        date_format: How partition window bounds are written into variables.
        version: Pin runs to this endpoint version.
        key: Asset key (replaces the translator's `[prefix..., name]`).
        group_name: Asset group.
        description: Replaces the endpoint's description from PostHog.
        refresh: Refresh mode for this endpoint's runs.
        metadata: Extra definition metadata.
        materialize: Ask PostHog to materialize the endpoint before running it (see `EndpointSpec`).
        frame_type: What the asset returns: pandas, polars or arrow.
        backfill: `single_run` (one run per range) or `multi_run` (one run per partition).
    """

    variables: Mapping[str, Any] = field(default_factory=dict)
    partitions_def: Optional[dg.PartitionsDefinition] = None
    date_format: Optional[str] = None
    version: Optional[int] = None
    key: Optional[dg.AssetKey] = None
    group_name: Optional[str] = None
    description: Optional[str] = None
    refresh: Optional[str] = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    materialize: Optional[bool] = None
    frame_type: Optional[str] = None
    backfill: Optional[str] = None

    def then(self, other: EndpointOverride) -> EndpointOverride:
        """This override with `other` applied on top: set fields of `other` win, and
        `variables`/`metadata` merge key by key."""
        changes: dict[str, Any] = {}
        for f in fields(other):
            value = getattr(other, f.name)
            if f.name in ("variables", "metadata"):
                changes[f.name] = {**getattr(self, f.name), **value}
            elif value is not None:
                changes[f.name] = value
        return replace(self, **changes)


#: The component's `backfill` values: one run per range of partitions, or one run per partition.
BACKFILL_POLICIES: dict[str, Callable[[], dg.BackfillPolicy]] = {
    "single_run": dg.BackfillPolicy.single_run,
    "multi_run": lambda: dg.BackfillPolicy.multi_run(1),
}


@dataclass(frozen=True)
class SkippedEndpoint:
    """An endpoint left out of the definitions, and why (shown in the load warning)."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"endpoint {self.name!r}: {self.reason}"


def override_for(name: str, overrides: Mapping[str, EndpointOverride]) -> Optional[EndpointOverride]:
    """The override of one endpoint: every glob entry that matches, in the order given, then
    the entry of its exact name on top (the most specific wins)."""
    matched: Optional[EndpointOverride] = None
    for pattern, override in overrides.items():
        if pattern != name and _is_glob(pattern) and fnmatch.fnmatchcase(name, pattern):
            matched = override if matched is None else matched.then(override)
    exact = overrides.get(name)
    if exact is not None:
        matched = exact if matched is None else matched.then(exact)
    return matched


def spec_for(endpoint: EndpointState, override: Optional[EndpointOverride], *, refresh: str) -> EndpointSpec:
    """The spec of one endpoint; raises `ValueError` with a message naming the problem."""
    override = override or EndpointOverride()
    known = {v.code_name for v in endpoint.variables}
    fixed: dict[str, Any] = {}
    from_partition: dict[str, str] = {}
    for code_name, value in override.variables.items():
        if code_name not in known:
            have = ", ".join(sorted(known)) or "none"
            raise ValueError(
                f"variable {code_name!r} is set in the overrides, but the endpoint has no such variable "
                f"(its variables: {have}); fix the name, or refresh the state if it was added in PostHog"
            )
        if isinstance(value, PartitionValue):
            if value.part in from_partition:
                raise ValueError(
                    f"variables {from_partition[value.part]!r} and {code_name!r} both take partition.{value.part}; "
                    "only one variable can receive each part"
                )
            from_partition[value.part] = code_name
        elif isinstance(value, str) and "<partition." in value:
            raise ValueError(
                f"variable {code_name!r} mixes text with a partition value ({value!r}); write exactly "
                "'{{ partition.start }}', '{{ partition.end }}' or '{{ partition.key }}' and set "
                "`date_format` to change how dates are written"
            )
        else:
            fixed[code_name] = value

    partitions_def = override.partitions_def
    partition_variables = None
    if from_partition:
        if partitions_def is None:
            raise ValueError(
                f"variable {from_partition[next(iter(from_partition))]!r} takes a partition value, but no "
                "`partitions` are set for this endpoint"
            )
        time_based = isinstance(partitions_def, dg.TimeWindowPartitionsDefinition)
        if not time_based and ("start" in from_partition or "end" in from_partition):
            raise ValueError(
                "partition.start/partition.end need time-window partitions (daily, weekly, monthly); "
                "with static partitions use partition.key"
            )
        partition_variables = PartitionVariables(
            start=from_partition.get("start"),
            end=from_partition.get("end"),
            key=from_partition.get("key"),
            date_format=override.date_format or PartitionVariables.date_format,
        )

    version = override.version
    if version is not None and endpoint.current_version is not None and version > endpoint.current_version:
        raise ValueError(
            f"version {version} is pinned, but the endpoint's current version is {endpoint.current_version}; "
            "pin an existing version or refresh the state"
        )

    metadata: dict[str, Any] = {}
    if endpoint.current_version is not None:
        metadata["posthog/current_version"] = endpoint.current_version
    if endpoint.ui_url:
        metadata["posthog/ui_url"] = dg.MetadataValue.url(endpoint.ui_url)
    metadata.update(override.metadata)

    return EndpointSpec(
        name=endpoint.name,
        variables=fixed,
        refresh=override.refresh or refresh,
        version=version,
        partitions_def=partitions_def,
        partition_variables=partition_variables,
        description=override.description or endpoint.description,
        hogql=endpoint.hogql,
        saved_variables=endpoint.saved_variables,
        key=override.key,
        group_name=override.group_name,
        metadata=metadata,
        materialize=bool(override.materialize),
        frame_type=override.frame_type,
        backfill_policy=BACKFILL_POLICIES[override.backfill]() if override.backfill else None,
    )


@dataclass(frozen=True)
class Plan:
    """The outcome of planning: specs to build, endpoints skipped, overrides that matched nothing."""

    specs: tuple[EndpointSpec, ...]
    skipped: tuple[SkippedEndpoint, ...]
    unused_overrides: tuple[str, ...] = ()
    states: Mapping[str, EndpointState] = field(default_factory=dict)


def plan_specs(
    state: EndpointsState,
    *,
    selection: EndpointSelection = EndpointSelection(),
    overrides: Mapping[str, EndpointOverride] | None = None,
    refresh: str = "force_async",
) -> Plan:
    """Select endpoints from `state` and build their specs, one endpoint's failure at a time."""
    if refresh not in ASSET_REFRESH_MODES:
        raise ValueError(f"refresh={refresh!r} is not one of {', '.join(ASSET_REFRESH_MODES)}")
    overrides = dict(overrides or {})
    specs: list[EndpointSpec] = []
    states: dict[str, EndpointState] = {}
    skipped = [
        SkippedEndpoint(label, f"unreadable entry in the saved state ({reason})")
        for label, reason in state.broken
    ]
    seen: set[str] = set()
    for endpoint in state.endpoints:
        if not selection.matches(endpoint):
            continue
        if endpoint.name in seen:
            skipped.append(
                SkippedEndpoint(endpoint.name, "listed twice in the saved state; the first entry is used")
            )
            continue
        seen.add(endpoint.name)
        try:
            spec = spec_for(endpoint, override_for(endpoint.name, overrides), refresh=refresh)
        except ValueError as exc:
            skipped.append(SkippedEndpoint(endpoint.name, str(exc)))
            continue
        specs.append(spec)
        states[spec.name] = endpoint
    names = {e.name for e in state.endpoints}
    unused = tuple(
        pattern
        for pattern in overrides
        if not (
            any(fnmatch.fnmatchcase(n, pattern) for n in names) if _is_glob(pattern) else pattern in names
        )
    )
    return Plan(specs=tuple(specs), skipped=tuple(skipped), unused_overrides=unused, states=states)


def drop_duplicate_keys(
    pairs: Iterable[tuple[EndpointSpec, dg.AssetKey]],
) -> tuple[list[EndpointSpec], list[SkippedEndpoint]]:
    """Keep the first endpoint per asset key; later ones are skipped, naming the clash."""
    kept: list[EndpointSpec] = []
    skipped: list[SkippedEndpoint] = []
    owner: dict[dg.AssetKey, str] = {}
    for spec, key in pairs:
        if key in owner:
            skipped.append(
                SkippedEndpoint(
                    spec.name,
                    f"asset key {key.to_user_string()!r} is already used by endpoint {owner[key]!r}",
                )
            )
            continue
        owner[key] = spec.name
        kept.append(spec)
    return kept, skipped


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")
