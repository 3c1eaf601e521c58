"""What to run: `EndpointSpec` describes one endpoint asset before Dagster sees it.

A spec is plain data (no Dagster execution state), so the asset factory, the component and
the sensor can all build on it. Partition keys become API variables through
`PartitionVariables`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

import dagster as dg

from endpoints_dagster.as_code.files import EndpointFile
from endpoints_dagster.client.dialects.base import CURRENT_REFRESH_MODES
from endpoints_dagster.client.names import ENDPOINT_NAME_PATTERN
from endpoints_dagster.client.runs.args import DOCUMENTED_REFRESH_MODES
from endpoints_dagster.frames.extras import check_frame_type

#: Refresh modes an asset may ask for: the documented dialect's six, then PostHog today's three
#: (`cache`, `force`, `direct`). The client maps each onto the dialect the server speaks (see
#: `endpoints_dagster.client.dialects`): on PostHog today the async modes run synchronously and
#: `force_cache` is refused; on a documented server `cache`/`force` are `blocking`/`force_blocking`
#: and `direct` is refused. `force_async` is the asset default: it always computes fresh data and,
#: where the server offers async runs, keeps no HTTP request open while the query runs.
ASSET_REFRESH_MODES = DOCUMENTED_REFRESH_MODES + CURRENT_REFRESH_MODES
DATE_FORMAT = "%Y-%m-%d"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class PartitionVariables:
    """Which endpoint variables receive the partition of a run.

    For time-window partitions, `start` and `end` name the variables that receive the window's
    start and end, formatted with `date_format` (the end is exclusive: the daily partition
    2026-11-01 runs with start 2026-11-01 and end 2026-11-02). Without a `date_format`, bounds at
    midnight are written as dates (`%Y-%m-%d`) and others with their time (`%Y-%m-%d %H:%M:%S`),
    so hourly partitions do not collapse to their day. For any partitions, `key` names
    the variable that receives the partition key itself (a static partition such as a plan).

    Example:
        .. code-block:: python

            PartitionVariables(start="since", end="until")       # daily partitions
            PartitionVariables(key="plan")                         # static partitions
    """

    start: Optional[str] = None
    end: Optional[str] = None
    key: Optional[str] = None
    date_format: Optional[str] = None

    def names(self) -> list[str]:
        return [n for n in (self.start, self.end, self.key) if n]

    def values_for(
        self, partition_key: Optional[str], time_window: Optional[tuple[datetime, datetime]]
    ) -> dict[str, Any]:
        """The variables of one partition (or one time range of partitions): `{code_name: value}`."""
        values: dict[str, Any] = {}
        if self.key:
            if partition_key is None:
                raise ValueError(
                    f"variable {self.key!r} takes one partition key, but this run covers a range "
                    "of partitions; launch one run per partition"
                )
            values[self.key] = partition_key
        if self.start or self.end:
            if time_window is None:
                raise ValueError(
                    f"variables {self.start!r}/{self.end!r} take a time window, but the partition "
                    f"{partition_key!r} is not time-based; use `key=` for static partitions"
                )
            start, end = time_window
            date_format = self.date_format or _default_date_format(start, end)
            if self.start:
                values[self.start] = start.strftime(date_format)
            if self.end:
                values[self.end] = end.strftime(date_format)
        return values


def _default_date_format(start: datetime, end: datetime) -> str:
    midnight = all((t.hour, t.minute, t.second, t.microsecond) == (0, 0, 0, 0) for t in (start, end))
    return DATE_FORMAT if midnight else DATETIME_FORMAT


@dataclass(frozen=True)
class EndpointSpec:
    """One PostHog endpoint to materialize as a Dagster asset.

    Args:
        name: The endpoint's name in PostHog.
        variables: Fixed variable values, `{code_name: value}`; they override saved defaults.
        refresh: The run's refresh mode (see `ASSET_REFRESH_MODES`); `force_async` by default.
        version: Pin the run to this endpoint version instead of the current one.
        partitions_def: Partition the asset; combine with `partition_variables`.
        partition_variables: Which variables receive the partition key or window.
        description: Text for the asset in the Dagster UI (the translator may add to it).
        hogql: The endpoint's HogQL, shown in the asset description when known.
        saved_variables: The endpoint's saved variable defaults, shown as metadata.
        key: An explicit asset key; otherwise the translator decides (`["posthog", name]`).
        group_name: An explicit group; otherwise the translator decides.
        metadata: Extra definition metadata for the asset.
        source: The endpoint file this endpoint is deployed from (see `load_endpoint_file_specs`):
            the asset's code version is the file's, and materializing deploys the file first,
            then runs the version it deployed.
        materialize: Ask PostHog to materialize the endpoint (turned on before each run if it is
            off; nothing is sent when it is on): runs then read a precomputed table instead of
            computing the query, for endpoints too heavy for PostHog's synchronous limit (about
            60 s). The data is as fresh as the last materialization (see docs/heavy-endpoints.md).
        frame_type: What the asset returns: `pandas`, `polars` or `arrow` (see `FRAME_TYPES`);
            `None` takes the default of `build_endpoint_assets` (`pandas` unless set there).
        backfill_policy: How a backfill of this asset is split into runs. Unset: time-window
            partitions backfill a range in one run (one query over the whole window), which needs
            an IO manager that stores a range of partitions (DuckDB, Snowflake, ...); with one that
            cannot (the default filesystem one), set `dg.BackfillPolicy.multi_run(1)`.
        keep_unsigned: Keep ClickHouse unsigned integer columns (`UInt64`, from `count()`) as
            unsigned; by default they land as signed `int64`/`Int64` when every value fits, so
            `a - b` does not wrap around.

    Example:
        .. code-block:: python

            EndpointSpec(
                "daily_signups",
                partitions_def=dg.DailyPartitionsDefinition(start_date="2026-08-01"),
                partition_variables=PartitionVariables(start="since", end="until"),
            )
    """

    name: str
    variables: Mapping[str, Any] = field(default_factory=dict)
    refresh: str = "force_async"
    version: Optional[int] = None
    partitions_def: Optional[dg.PartitionsDefinition] = None
    partition_variables: Optional[PartitionVariables] = None
    description: Optional[str] = None
    hogql: Optional[str] = None
    saved_variables: Mapping[str, Any] = field(default_factory=dict)
    key: Optional[dg.AssetKey] = None
    group_name: Optional[str] = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    source: Optional[EndpointFile] = None
    materialize: bool = False
    frame_type: Optional[str] = None
    backfill_policy: Optional[dg.BackfillPolicy] = None
    keep_unsigned: Optional[bool] = None

    def __post_init__(self) -> None:
        # The contract's name rule, checked when a spec is made so that a bad name fails when the
        # definitions load, not in the middle of a run.
        if not isinstance(self.name, str) or not ENDPOINT_NAME_PATTERN.fullmatch(self.name):
            raise ValueError(
                f"invalid endpoint name {self.name!r}: names start with a letter and hold only "
                "letters, digits, '_' and '-' (at most 128 characters)"
            )
        if self.refresh not in ASSET_REFRESH_MODES:
            raise ValueError(
                f"endpoint {self.name!r}: refresh={self.refresh!r} is not one of {', '.join(ASSET_REFRESH_MODES)}"
            )
        if self.frame_type is not None:
            check_frame_type(self.frame_type, f"endpoint {self.name!r}: frame_type")
        if self.version is not None and (not isinstance(self.version, int) or self.version < 1):
            raise ValueError(
                f"endpoint {self.name!r}: version must be a positive integer, got {self.version!r}"
            )
        if self.source is not None and (self.version is not None or self.source.name != self.name):
            raise ValueError(
                f"endpoint {self.name!r}: a spec built from {self.source.path} runs the version it deploys "
                f"of endpoint {self.source.name!r}; drop `version` and keep the file's name"
            )
        if self.partition_variables and self.partitions_def is None:
            raise ValueError(
                f"endpoint {self.name!r}: partition_variables needs a partitions_def to draw from"
            )
        if self.partition_variables:
            clash = set(self.partition_variables.names()) & set(self.variables)
            if clash:
                raise ValueError(
                    f"endpoint {self.name!r}: variable(s) {', '.join(sorted(clash))} are set both "
                    "as fixed `variables` and from the partition; keep one"
                )
        if isinstance(self.key, (str, list, tuple)):
            object.__setattr__(self, "key", dg.AssetKey.from_coercible(self.key))

    def variables_for(
        self, partition_key: Optional[str], time_window: Optional[tuple[datetime, datetime]]
    ) -> dict[str, Any]:
        """The variables to send for one run: fixed values plus those of the partition."""
        values = dict(self.variables)
        if self.partition_variables and (partition_key is not None or time_window is not None):
            values.update(self.partition_variables.values_for(partition_key, time_window))
        return values


def coerce_spec(spec: EndpointSpec | str) -> EndpointSpec:
    """Accept a bare endpoint name wherever a spec is expected."""
    return spec if isinstance(spec, EndpointSpec) else EndpointSpec(name=spec)
