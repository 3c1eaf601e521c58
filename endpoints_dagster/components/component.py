"""`PostHogEndpointsComponent`: every endpoint of a PostHog project as a Dagster asset, from YAML.

A state-backed component: `dg utils refresh-defs-state` reads the endpoint list from PostHog
once and saves it; loading definitions builds assets from that saved list only, so a code
location loads without a network call, and without PostHog being up.
"""

# No `from __future__ import annotations`: Dagster reads these dataclass field types at runtime.
import fnmatch
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Optional

import dagster as dg
from dagster.components import (
    ComponentLoadContext,
    DefsStateConfig,
    DefsStateConfigArgs,
    Resolvable,
    ResolvedDefsStateConfig,
    StateBackedComponent,
)
from dagster.components.utils.translation import TranslationFn, TranslationFnResolver
from typing_extensions import Self

from endpoints_dagster.assets.factory import build_endpoint_assets
from endpoints_dagster.client.hints import did_you_mean
from endpoints_dagster.components.endpoint_files import file_specs
from endpoints_dagster.components.model import (
    PARTITION_SCOPE,
    DefaultsArgs,
    EndpointOverrideArgs,
    ResolvedConnection,
    SelectionArgs,
    SensorArgs,
)
from endpoints_dagster.components.scaffolder import PostHogEndpointsScaffolder
from endpoints_dagster.discovery.selection import (
    EndpointSkippedWarning,
    SkippedEndpoint,
    drop_duplicate_keys,
    plan_specs,
)
from endpoints_dagster.discovery.state import REFRESH_HINT, EndpointsState, EndpointState, EndpointStateError
from endpoints_dagster.sensors.sensor import build_endpoint_execution_sensor
from endpoints_dagster.specs import EndpointSpec
from endpoints_dagster.translator import PostHogEndpointsTranslator


def _default_defs_state() -> DefsStateConfigArgs:
    # Local file, and no refresh when `dagster dev` loads: loading never calls PostHog unless
    # the user opts in with `refresh_if_dev: true`.
    return DefsStateConfigArgs.local_filesystem().model_copy(update={"refresh_if_dev": False})


class _ComponentTranslator(PostHogEndpointsTranslator):
    """The component's translator: defaults block, then the YAML `translation` block, then
    `PostHogEndpointsComponent.get_asset_spec` (for subclasses). Remembers each result, since
    the component checks every endpoint's spec before handing them to the factory."""

    def __init__(self, component: "PostHogEndpointsComponent", states: Mapping[str, EndpointState]):
        defaults = component.defaults or DefaultsArgs()
        super().__init__(key_prefix=defaults.prefix(), group_name=defaults.group)
        self._component = component
        self._states = states
        self._memo: dict[str, dg.AssetSpec] = {}

    def base_asset_spec(self, endpoint: EndpointSpec) -> dg.AssetSpec:
        return super().get_asset_spec(endpoint)

    def get_asset_spec(self, endpoint: EndpointSpec) -> dg.AssetSpec:
        if endpoint.name not in self._memo:
            self._memo[endpoint.name] = self._component.get_asset_spec(
                endpoint, self._states.get(endpoint.name), self
            )
        return self._memo[endpoint.name]


@dg.scaffold_with(PostHogEndpointsScaffolder)
@dataclass
class PostHogEndpointsComponent(StateBackedComponent, Resolvable):
    """Every endpoint of a PostHog project as a Dagster asset that lands the endpoint's rows
    as a typed DataFrame.

    Run `dg utils refresh-defs-state` to read the endpoint list from PostHog; loading the
    definitions then makes no network call.

    Example:
        .. code-block:: yaml

            # defs/posthog/defs.yaml
            type: endpoints_dagster.PostHogEndpointsComponent
            attributes:
              connection:
                host: "{{ env.POSTHOG_HOST }}"
                project_id: "{{ env.POSTHOG_PROJECT_ID }}"
                personal_api_key: "{{ env.POSTHOG_PERSONAL_API_KEY }}"
              selection:
                exclude: ["internal_*"]
              defaults:
                group: posthog
                max_concurrency: 8
              endpoints:
                daily_signups:
                  partitions: {type: daily, start_date: "2026-09-01"}
                  variables:
                    since: "{{ partition.start }}"
                    until: "{{ partition.end }}"
              translation:
                owners: ["team:growth"]

    Blocks: `connection` (required), `selection` (include/exclude names or globs, active
    only unless `include_inactive`), `defaults` (refresh, group, key_prefix, pool,
    max_concurrency, schema_checks, frame_type), `endpoints` (per name or glob: variables,
    partitions, date_format, version, key, group, description, refresh, metadata, frame_type,
    materialize), `endpoint_files` (a folder of endpoint files, relative to this file: each an
    asset deployed from its file, see docs/endpoints-as-code.md), `translation` (any asset
    attribute; templates see `endpoint`: name, description, hogql, current_version, variables,
    and `spec`), `sensor` (launch a run when an endpoint executes in PostHog), `resource_key` /
    `provide_resource`, and Dagster's `defs_state`.
    """

    connection: ResolvedConnection
    resource_key: str = "posthog"
    provide_resource: bool = True
    selection: Optional[SelectionArgs] = None
    defaults: Optional[DefaultsArgs] = None
    endpoints: dict[str, EndpointOverrideArgs] = field(default_factory=dict)
    translation: Optional[
        Annotated[
            TranslationFn[EndpointState],
            TranslationFnResolver(template_vars_for_translation_fn=lambda endpoint: {"endpoint": endpoint}),
        ]
    ] = None
    sensor: Optional[SensorArgs] = None
    endpoint_files: Optional[str] = None
    defs_state: ResolvedDefsStateConfig = field(default_factory=_default_defs_state)

    def __post_init__(self) -> None:
        # Turn the YAML overrides into plain objects now, so a mistake in them (a partitions
        # block without start_date, a bad version) fails the load even before any state exists.
        self._overrides = {name: args.to_override(name) for name, args in self.endpoints.items()}

    # -- loading ------------------------------------------------------------------------------

    @classmethod
    def get_additional_scope(cls) -> Mapping[str, Any]:
        return {**super().get_additional_scope(), **PARTITION_SCOPE}

    @classmethod
    def load(cls, attributes: Any, context: ComponentLoadContext) -> Self:
        # `partition.*` must resolve however the component is loaded (YAML or a dict in tests).
        return super().load(attributes, context.with_rendering_scope(PARTITION_SCOPE))

    @property
    def defs_state_config(self) -> DefsStateConfig:
        # Keyed by project, not host: the saved list is the whole project, so two components
        # on one project can share it, and a local server on a new port finds its state.
        return DefsStateConfig.from_args(
            self.defs_state, default_key=f"PostHogEndpointsComponent[project_{self.connection.project_id}]"
        )

    # -- state ----------------------------------------------------------------------------------

    def write_state_to_path(self, state_path: Path) -> None:
        """Read every endpoint (inactive ones too) from PostHog and save the list."""
        with self.connection.get_client() as client:
            endpoints = client.list_endpoints()
            host = client.host
        EndpointsState.from_endpoints(endpoints, project_id=self.connection.project_id, host=host).write(
            state_path
        )

    def build_defs_from_state(
        self, context: ComponentLoadContext, state_path: Optional[Path]
    ) -> dg.Definitions:
        files = None
        if self.endpoint_files:
            files = Path(self.endpoint_files)
            files = files if files.is_absolute() else Path(context.path) / files
        if state_path is None and files is not None:
            # File-backed endpoints need no saved list: the files say everything.
            return self.build_defs_from_endpoint_state(EndpointsState(endpoints=()), files_folder=files)
        if state_path is None:
            _warn(
                f"PostHogEndpointsComponent at {_where(context)}: no saved endpoint list yet "
                f"(state key {self.defs_state_config.key!r}), so it defines no assets. {REFRESH_HINT}"
            )
            return dg.Definitions()
        try:
            state = EndpointsState.read(state_path)
        except EndpointStateError as exc:
            _warn(f"PostHogEndpointsComponent at {_where(context)}: {exc}")
            return dg.Definitions()
        if state.project_id is not None and state.project_id != str(self.connection.project_id):
            _warn(
                f"PostHogEndpointsComponent at {_where(context)}: the saved endpoint list is of project "
                f"{state.project_id}, but the connection names project {self.connection.project_id}; no assets "
                f"are defined from it. {REFRESH_HINT}"
            )
            return dg.Definitions()
        return self.build_defs_from_endpoint_state(state, files_folder=files)

    def build_defs_from_endpoint_state(
        self, state: EndpointsState, *, files_folder: Optional[Path] = None
    ) -> dg.Definitions:
        """The definitions of a parsed state (and of the files in `files_folder`); every
        endpoint that cannot be built is skipped with an `EndpointSkippedWarning` naming it."""
        defaults = self.defaults or DefaultsArgs()
        plan = plan_specs(
            state,
            selection=(self.selection or SelectionArgs()).to_selection(),
            overrides=self._overrides,
            refresh=defaults.refresh,
        )
        translator = _ComponentTranslator(self, plan.states)
        translated: list[tuple[EndpointSpec, dg.AssetKey]] = []
        skipped: list[SkippedEndpoint] = list(plan.skipped)
        planned = list(plan.specs)
        unused_overrides = plan.unused_overrides
        if files_folder is not None:
            # A file is the truth about its endpoint: it replaces the saved entry of the same name.
            from_files, bad_files = file_specs(files_folder, self._overrides, refresh=defaults.refresh)
            names = {spec.name for spec in from_files}
            planned = [*from_files, *(spec for spec in planned if spec.name not in names)]
            skipped.extend(bad_files)
            unused_overrides = tuple(
                p for p in unused_overrides if not any(fnmatch.fnmatchcase(n, p) for n in names)
            )
        for spec in planned:
            try:
                translated.append((spec, translator.get_asset_spec(spec).key))
            except Exception as exc:  # a translation template failing for one endpoint only
                skipped.append(SkippedEndpoint(spec.name, f"translation failed: {exc}"))
        specs, clashes = drop_duplicate_keys(translated)
        skipped.extend(clashes)
        for item in skipped:
            _warn(f"PostHogEndpointsComponent skipped {item}")
        if not plan.specs and not plan.skipped and state.endpoints:
            _warn(
                f"PostHogEndpointsComponent: the selection matches none of the {len(state.endpoints)} endpoints "
                "in the saved list (inactive ones count only with include_inactive: true)"
            )
        for pattern in unused_overrides:
            _warn(f"PostHogEndpointsComponent: `endpoints.{pattern}` matches no endpoint in the saved list")

        assets = (
            build_endpoint_assets(
                specs,
                resource_key=self.resource_key,
                translator=translator,
                max_concurrency=defaults.max_concurrency,
                pool=defaults.pool,
                schema_checks=defaults.schema_checks,
                frame_type=defaults.frame_type,
            )
            if specs
            else []
        )
        sensors = self._build_sensor(specs, translator)
        resources = (
            {self.resource_key: self.connection} if self.provide_resource and (assets or sensors) else {}
        )
        return dg.Definitions(assets=assets, sensors=sensors, resources=resources)

    # -- customisation ------------------------------------------------------------------------

    def get_asset_spec(
        self,
        endpoint: EndpointSpec,
        state: Optional[EndpointState],
        translator: _ComponentTranslator,
    ) -> dg.AssetSpec:
        """The asset spec of one endpoint. Override in a subclass to customise it in Python;
        call super() to start from the defaults and the YAML `translation` block."""
        spec = translator.base_asset_spec(endpoint)
        if self.translation is not None and state is not None:
            spec = self.translation(spec, state)
        return spec

    # -- sensor -------------------------------------------------------------------------------

    def _build_sensor(
        self, specs: Sequence[EndpointSpec], translator: _ComponentTranslator
    ) -> list[dg.SensorDefinition]:
        if self.sensor is None or not self.sensor.enabled:
            return []
        patterns = self.sensor.endpoints or ["*"]
        names = [spec.name for spec in specs]
        for pattern in patterns:
            # Checked against the saved list: a misspelled name would otherwise never fire, silently.
            if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
                _warn(
                    f"PostHogEndpointsComponent sensor: `sensor.endpoints` entry {pattern!r} matches no "
                    f"endpoint among the component's assets.{did_you_mean(pattern, names)}"
                )
        watched: list[EndpointSpec] = []
        for spec in specs:
            if not any(fnmatch.fnmatchcase(spec.name, pattern) for pattern in patterns):
                continue
            if spec.partitions_def is not None:
                # A run request for a partitioned asset needs a partition key, which an
                # execution in PostHog does not carry.
                _warn(
                    f"PostHogEndpointsComponent sensor: endpoint {spec.name!r} is partitioned; "
                    "the sensor does not watch it"
                )
                continue
            watched.append(spec)
        if not watched:
            _warn(
                "PostHogEndpointsComponent sensor: no unpartitioned endpoint to watch; no sensor is defined"
            )
            return []
        key_by_name = {spec.name: translator.get_asset_spec(spec).key for spec in watched}
        return [
            build_endpoint_execution_sensor(
                watched,
                target=list(key_by_name.values()),
                asset_selection_fn=lambda execution: [key_by_name[execution.name]],
                name=self.sensor.name or f"posthog_endpoint_executions_{self.resource_key}",
                resource_key=self.resource_key,
                minimum_interval_seconds=self.sensor.minimum_interval_seconds,
                default_status=dg.DefaultSensorStatus.RUNNING
                if self.sensor.default_status == "running"
                else dg.DefaultSensorStatus.STOPPED,
            )
        ]


def _warn(message: str) -> None:
    warnings.warn(message, EndpointSkippedWarning, stacklevel=3)


def _where(context: ComponentLoadContext) -> str:
    try:
        return str(context.path)
    except Exception:
        return "<component>"
