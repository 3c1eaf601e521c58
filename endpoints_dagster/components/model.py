"""The YAML schema of `PostHogEndpointsComponent` and how each block resolves.

Every block is a `Resolvable`, so `{{ env.X }}` and the other Dagster template scopes work in
any field. One more scope is added: `partition`, whose `{{ partition.start }}`,
`{{ partition.end }}` and `{{ partition.key }}` stand for the run's partition in endpoint
`variables` (they become `PartitionVariables`).
"""

# No `from __future__ import annotations`: Dagster reads these dataclass field types at runtime.
import os
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Optional, Union

import dagster as dg
from dagster.components import ResolutionContext, Resolvable, Resolver
from dagster.components.resolved.errors import ResolutionException
from pydantic import Field, ValidationError

from endpoints_dagster.client.names import normalize_host, validate_project_id
from endpoints_dagster.discovery.selection import (
    PARTITION_END,
    PARTITION_KEY,
    PARTITION_START,
    EndpointOverride,
    EndpointSelection,
)
from endpoints_dagster.frames.extras import FRAME_TYPES
from endpoints_dagster.resource import DEFAULT_HOST, PostHogEndpointsResource
from endpoints_dagster.specs import ASSET_REFRESH_MODES
from endpoints_dagster.translator import DEFAULT_GROUP, DEFAULT_KEY_PREFIX

RefreshMode = Literal[
    "blocking",
    "async",
    "lazy_async",
    "force_blocking",
    "force_async",
    "force_cache",
    "cache",
    "force",
    "direct",
]
assert set(RefreshMode.__args__) == set(ASSET_REFRESH_MODES)  # type: ignore[attr-defined]
# What an asset returns (`frame_type`): pandas DataFrames, Polars frames or Arrow tables.
FrameType = Literal["pandas", "polars", "arrow"]
assert set(FrameType.__args__) == set(FRAME_TYPES)  # type: ignore[attr-defined]


class ResolutionError(ResolutionException):
    """A YAML value cannot be used; the message names the field and what to do.

    A `ResolutionException`, so Dagster shows the message as is instead of a traceback."""


# --------------------------------------------------------------------------------------------
# partition placeholders
# --------------------------------------------------------------------------------------------


class PartitionScope:
    """`{{ partition.* }}` in component YAML: stands for the run's partition.

    The values are resolved per run, not at load time, so they only make sense as endpoint
    variable values.
    """

    start = PARTITION_START
    end = PARTITION_END
    key = PARTITION_KEY

    def __getattr__(self, name: str) -> Any:
        if name.startswith("jinja") or name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(
            f"partition.{name} does not exist; use partition.start, partition.end or partition.key"
        )


PARTITION_SCOPE = {"partition": PartitionScope()}


# --------------------------------------------------------------------------------------------
# connection
# --------------------------------------------------------------------------------------------

_ENV_REFERENCE = re.compile(r"""env\.([A-Za-z_][A-Za-z0-9_]*)|env\(\s*['"]([^'"]+)['"]""")
_REQUIRED_CONNECTION_FIELDS = ("project_id", "personal_api_key")


class ConnectionArgs(dg.Model):
    """How to reach PostHog. Use `{{ env.X }}` for every value that differs between
    environments, and always for the key."""

    host: str = Field(
        default=DEFAULT_HOST,
        description="PostHog URL, e.g. https://us.posthog.com, https://eu.posthog.com or your own.",
        examples=["{{ env.POSTHOG_HOST }}"],
    )
    project_id: Union[str, int] = Field(
        description="PostHog project id (the number in /project/<id>/ URLs).",
        examples=["{{ env.POSTHOG_PROJECT_ID }}"],
    )
    personal_api_key: str = Field(
        description="Personal API key with the endpoint:read scope. Never write the key itself here.",
        examples=["{{ env.POSTHOG_PERSONAL_API_KEY }}"],
    )
    request_timeout: Optional[Union[float, str]] = Field(
        default=None, description="Seconds per HTTP response."
    )
    max_retries: Optional[Union[int, str]] = Field(default=None, description="Retries of retryable errors.")
    retry_initial_wait: Optional[Union[float, str]] = Field(
        default=None, description="First backoff between retries."
    )
    retry_max_wait: Optional[Union[float, str]] = Field(
        default=None, description="Longest backoff between retries."
    )
    poll_interval: Optional[Union[float, str]] = Field(
        default=None, description="First wait between async status checks."
    )
    poll_max_interval: Optional[Union[float, str]] = Field(
        default=None, description="Longest wait between status checks."
    )
    run_timeout: Optional[Union[float, str]] = Field(
        default=None, description="Seconds one endpoint run may take."
    )
    gateway_timeout: Optional[Union[float, str]] = Field(
        default=None,
        description="Seconds after which PostHog's gateway cuts a synchronous run (60); see the resource.",
    )
    max_rows: Optional[Union[int, str]] = Field(default=None, description="Refuse results larger than this.")
    page_size: Optional[Union[int, str]] = Field(default=None, description="Rows per page when paging.")
    api_dialect: Optional[Literal["auto", "documented", "current"]] = Field(
        default=None,
        description="auto (default), documented or current: which PostHog Endpoints API the host speaks.",
    )
    keep_unsigned: Optional[Union[bool, str]] = Field(
        default=None, description="Keep unsigned integer columns unsigned (default: signed where they fit)."
    )
    verify_ssl: Optional[Union[bool, str]] = Field(default=None, description="Verify TLS certificates.")
    allow_insecure_http: Optional[Union[bool, str]] = Field(
        default=None, description="Allow plain http:// to hosts other than localhost."
    )


def _unset_env_vars(raw: Any) -> list[str]:
    if not isinstance(raw, str):
        return []
    names = [a or b for a, b in _ENV_REFERENCE.findall(raw)]
    return [name for name in dict.fromkeys(names) if not os.environ.get(name)]


def resolve_connection(context: ResolutionContext, model: ConnectionArgs) -> PostHogEndpointsResource:
    """Build the resource, failing with the name of any environment variable that is not set
    (a template of an unset variable renders as `None`, which must never pass silently)."""
    values: dict[str, Any] = {}
    for name in ConnectionArgs.model_fields:
        raw = getattr(model, name)
        if raw is None:
            continue
        missing = _unset_env_vars(raw)
        if missing:
            listed = ", ".join(missing)
            raise ResolutionError(
                f"connection.{name}: environment variable {listed} is not set (the field reads {raw!r}). "
                f"Set {listed} in the environment of the code location, or in the `.env` file of the project."
            )
        value = context.at_path(name).resolve_value(raw)
        if value is None or (isinstance(value, str) and not value.strip()):
            if name in _REQUIRED_CONNECTION_FIELDS:
                raise ResolutionError(
                    f"connection.{name} is empty; set it (for example to '{{{{ env.POSTHOG_{name.upper()} }}}}')."
                )
            continue
        values[name] = value.strip() if isinstance(value, str) else value
    try:
        values["project_id"] = str(validate_project_id(values["project_id"]))
        normalize_host(
            str(values.get("host", DEFAULT_HOST)),
            allow_insecure_http=_truthy(values.get("allow_insecure_http")),
        )
    except ValueError as exc:
        raise ResolutionError(f"connection: {exc}") from None
    try:
        return PostHogEndpointsResource(**values)
    except ValidationError as exc:
        # Never echo inputs: one of them is the API key.
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False)
        )
        raise ResolutionError(f"connection: {problems}") from None


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("1", "true", "yes"))


ResolvedConnection = Annotated[
    PostHogEndpointsResource,
    Resolver(
        resolve_connection,
        model_field_type=ConnectionArgs,
        inject_before_resolve=False,
        description="How to reach PostHog: host, project_id and personal_api_key (through {{ env.X }}).",
    ),
]


# --------------------------------------------------------------------------------------------
# selection, defaults, partitions, overrides, sensor
# --------------------------------------------------------------------------------------------


@dataclass
class SelectionArgs(Resolvable):
    """Which endpoints of the project become assets (names or shell globs)."""

    include: list[str] = field(default_factory=lambda: ["*"])
    exclude: list[str] = field(default_factory=list)
    include_inactive: bool = False

    def to_selection(self) -> EndpointSelection:
        return EndpointSelection(tuple(self.include), tuple(self.exclude), bool(self.include_inactive))


@dataclass
class DefaultsArgs(Resolvable):
    """Settings for every endpoint asset of this component."""

    refresh: RefreshMode = "force_async"
    group: str = DEFAULT_GROUP
    key_prefix: Union[str, list[str]] = field(default_factory=lambda: list(DEFAULT_KEY_PREFIX))
    pool: Optional[str] = None
    max_concurrency: int = 8
    schema_checks: bool = True
    frame_type: FrameType = "pandas"

    def prefix(self) -> tuple[str, ...]:
        if isinstance(self.key_prefix, str):
            return tuple(p for p in self.key_prefix.split("/") if p)
        return tuple(self.key_prefix)


@dataclass
class PartitionsArgs(Resolvable):
    """Partitions of one endpoint asset: time windows from a start date, or static keys."""

    type: Literal["hourly", "daily", "weekly", "monthly", "static"]
    start_date: Optional[str] = None
    end_date: Optional[str] = None
    end_offset: int = 0
    timezone: Optional[str] = None
    keys: Optional[list[str]] = None

    def build(self, where: str) -> dg.PartitionsDefinition:
        if self.type == "static":
            if not self.keys:
                raise ResolutionError(f"{where}: static partitions need `keys: [..]`")
            return dg.StaticPartitionsDefinition([str(k) for k in self.keys])
        if not self.start_date:
            raise ResolutionError(f"{where}: {self.type} partitions need `start_date` (e.g. '2026-01-01')")
        cls = {
            "hourly": dg.HourlyPartitionsDefinition,
            "daily": dg.DailyPartitionsDefinition,
            "weekly": dg.WeeklyPartitionsDefinition,
            "monthly": dg.MonthlyPartitionsDefinition,
        }[self.type]
        kwargs: dict[str, Any] = {"start_date": str(self.start_date), "end_offset": self.end_offset}
        if self.end_date:
            kwargs["end_date"] = str(self.end_date)
        if self.timezone:
            kwargs["timezone"] = self.timezone
        if self.keys:
            raise ResolutionError(f"{where}: `keys` only applies to static partitions")
        try:
            return cls(**kwargs)
        except Exception as exc:  # Dagster raises several types for bad dates
            raise ResolutionError(f"{where}: {exc}") from None


@dataclass
class EndpointOverrideArgs(Resolvable):
    """Changes for one endpoint (the key is its name, or a glob such as `daily_*`)."""

    variables: dict[str, Any] = field(default_factory=dict)
    # A `PartitionsArgs` block, or a template returning a definition ({{ dg.DailyPartitionsDefinition(...) }}).
    partitions: Optional[PartitionsArgs] = None
    date_format: Optional[str] = None
    version: Optional[int] = None
    key: Optional[Union[str, list[str]]] = None
    group: Optional[str] = None
    description: Optional[str] = None
    refresh: Optional[RefreshMode] = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # Ask PostHog to materialize the endpoint (heavy endpoints: see docs/heavy-endpoints.md).
    materialize: Optional[bool] = None
    frame_type: Optional[FrameType] = None
    # How a backfill is split: one run per range (default for time windows; needs an IO manager
    # that stores a range, such as DuckDB) or one run per partition (any IO manager).
    backfill: Optional[Literal["single_run", "multi_run"]] = None

    def to_override(self, name: str) -> EndpointOverride:
        where = f"endpoints.{name}"
        partitions = self.partitions
        if isinstance(partitions, PartitionsArgs):
            partitions_def: Optional[dg.PartitionsDefinition] = partitions.build(f"{where}.partitions")
        elif partitions is None or isinstance(partitions, dg.PartitionsDefinition):
            partitions_def = partitions
        else:
            raise ResolutionError(
                f"{where}.partitions: expected a partitions block, got {type(partitions).__name__}"
            )
        key = None
        if self.key:
            key = (
                dg.AssetKey.from_user_string(self.key)
                if isinstance(self.key, str)
                else dg.AssetKey(list(self.key))
            )
        if self.version is not None and (isinstance(self.version, bool) or int(self.version) < 1):
            raise ResolutionError(f"{where}.version must be a positive integer, got {self.version!r}")
        return EndpointOverride(
            variables=dict(self.variables or {}),
            partitions_def=partitions_def,
            date_format=self.date_format,
            version=None if self.version is None else int(self.version),
            key=key,
            group_name=self.group,
            description=self.description,
            refresh=self.refresh,
            metadata=dict(self.metadata or {}),
            materialize=self.materialize,
            frame_type=self.frame_type,
            backfill=self.backfill,
        )


@dataclass
class SensorArgs(Resolvable):
    """An optional sensor that launches a run when an endpoint is executed in PostHog."""

    enabled: bool = True
    name: Optional[str] = None
    minimum_interval_seconds: int = 60
    default_status: Literal["running", "stopped"] = "stopped"
    endpoints: Optional[list[str]] = None
