"""What the execution sensor watches, and which executions are Dagster's own.

`WatchList` turns what the user passed (names, `EndpointSpec`s, endpoint assets, external asset
specs) into endpoint names, the external asset standing for each, and the Dagster assets that
execute each endpoint when materialized.

Why the last part: materializing an endpoint asset runs the endpoint through the API with the
key, so PostHog records an execution like any other. A sensor that reacted to it would launch a
run for Dagster's own work and, if that run materializes the endpoint asset again, loop forever
(one run per tick). PostHog's answer does not say who executed; the Dagster instance does: an
execution whose time falls within a run that materialized (or is materializing) one of the
endpoint's assets is Dagster's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Optional, Union

import dagster as dg

from endpoints_dagster.client.names import ENDPOINT_NAME_PATTERN
from endpoints_dagster.specs import EndpointSpec

__all__ = ["CLOCK_SKEW_SECONDS", "ENDPOINT_TAG", "EXTERNAL_TAG", "EndpointRef", "WatchList", "dagster_run_of"]

#: Tag (and metadata key) naming the endpoint, on runs, endpoint assets and external assets.
ENDPOINT_TAG = "posthog/endpoint"
#: Tag marking the external assets that stand for endpoint executions in PostHog.
EXTERNAL_TAG = "posthog/external"
#: PostHog's clock and Dagster's may differ a little; a run's time window is widened by this much.
CLOCK_SKEW_SECONDS = 2.0

EndpointRef = Union[str, EndpointSpec, dg.AssetSpec, dg.AssetsDefinition]

#: Planned materializations looked at per endpoint asset when finding the run behind an
#: execution (newest first): enough for many concurrent partition runs.
RUN_SCAN_LIMIT = 100
_IN_PROGRESS = {
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
}


def checked_name(value: object, where: str) -> str:
    if not isinstance(value, str) or not ENDPOINT_NAME_PATTERN.fullmatch(value):
        raise ValueError(
            f"{where}: {value!r} is not an endpoint name (names start with a letter and hold only "
            "letters, digits, '_' and '-', at most 128 characters)"
        )
    return value


def endpoint_of(spec: dg.AssetSpec) -> Optional[str]:
    """The endpoint an asset spec is about, from its `posthog/endpoint` metadata or tag."""
    name: Any = spec.metadata.get(ENDPOINT_TAG) or spec.tags.get(ENDPOINT_TAG)
    if isinstance(name, dg.TextMetadataValue):
        name = name.value
    return name if isinstance(name, str) else None


def _is_external(spec: dg.AssetSpec) -> bool:
    return spec.tags.get(EXTERNAL_TAG) == "true"


def _asset_keys(assets_defs: Iterable[dg.AssetsDefinition]) -> dict[str, set[dg.AssetKey]]:
    """`{endpoint: keys of the assets that execute it}`; the external assets run nothing."""
    found: dict[str, set[dg.AssetKey]] = {}
    for assets_def in {id(a): a for a in assets_defs}.values():
        for spec in assets_def.specs:
            name = endpoint_of(spec)
            if name and not _is_external(spec):
                found.setdefault(name, set()).add(spec.key)
    return found


class WatchList:
    """The endpoints one sensor watches.

    Attributes:
        names: sorted endpoint names.
        external_keys: `{name: key of the external asset standing for it}`.
    """

    def __init__(
        self, endpoints: Union[EndpointRef, Sequence[EndpointRef]], external_prefix: Sequence[str]
    ) -> None:
        items: list[Any] = (
            [endpoints]
            if isinstance(endpoints, (str, EndpointSpec, dg.AssetSpec, dg.AssetsDefinition))
            else list(endpoints)
        )
        self.external_keys: dict[str, dg.AssetKey] = {}
        self._prefix = tuple(external_prefix)
        for item in items:
            self._add_item(item)
        self.names = sorted(self.external_keys)
        self._given_keys = _asset_keys(i for i in items if isinstance(i, dg.AssetsDefinition))
        self._keys_cache: tuple[int, dict[str, set[dg.AssetKey]]] | None = None

    def _add(self, name: str, external_key: Optional[dg.AssetKey] = None) -> None:
        # An external asset spec's own key wins over the default key of the same endpoint.
        if external_key is not None or name not in self.external_keys:
            self.external_keys[name] = external_key or dg.AssetKey([*self._prefix, name])

    def _add_item(self, item: Any) -> None:
        if isinstance(item, str):
            self._add(checked_name(item, "endpoints"))
        elif isinstance(item, EndpointSpec):
            self._add(item.name)
        elif isinstance(item, dg.AssetSpec):
            where = f"asset {item.key.to_user_string()!r}"
            endpoint = endpoint_of(item)
            if endpoint is None:
                raise ValueError(
                    f"endpoints: {where} has no '{ENDPOINT_TAG}' metadata or tag, so the sensor cannot "
                    "tell which endpoint it stands for"
                )
            self._add(checked_name(endpoint, where), item.key if _is_external(item) else None)
        elif isinstance(item, dg.AssetsDefinition):
            in_assets = [n for n in (endpoint_of(spec) for spec in item.specs) if n]
            if not in_assets:
                keys = ", ".join(k.to_user_string() for k in item.keys)
                raise ValueError(
                    f"endpoints: the assets {keys} hold no PostHog endpoint (no '{ENDPOINT_TAG}' metadata); "
                    "pass the assets of build_endpoint_assets(...) or endpoint names"
                )
            for endpoint in in_assets:
                self._add(checked_name(endpoint, "endpoints"))
        else:
            raise TypeError(
                "endpoints: expected endpoint names, EndpointSpecs or assets from build_endpoint_assets, "
                f"got {type(item).__name__}"
            )

    def materializing_keys(
        self, repository: Optional[dg.RepositoryDefinition]
    ) -> dict[str, set[dg.AssetKey]]:
        """`{endpoint: asset keys whose materialization executes it}`: the assets given to the
        sensor plus every endpoint asset of the code location (read once per loaded location)."""
        if repository is None:
            return self._given_keys
        if self._keys_cache is None or self._keys_cache[0] != id(repository):
            merged = {name: set(keys) for name, keys in self._given_keys.items()}
            for name, keys in _asset_keys(repository.assets_defs_by_key.values()).items():
                merged.setdefault(name, set()).update(keys)
            self._keys_cache = (id(repository), merged)
        return self._keys_cache[1]


def dagster_run_of(
    instance: dg.DagsterInstance, keys: Iterable[dg.AssetKey], executed_at: datetime
) -> Optional[str]:
    """The id of the Dagster run that made this execution of an endpoint, if one did.

    Candidates are the recent runs that planned a materialization of one of `keys` (concurrent
    partition runs included). A run covers the moment when it is in progress and started before
    it, or ran from before to after it, each bound widened by `CLOCK_SKEW_SECONDS`; of several,
    the one whose own window is nearest the moment wins.
    """
    moment = executed_at.timestamp()
    best: Optional[tuple[float, str]] = None
    for run in _runs_planning(instance, set(keys), before=moment + CLOCK_SKEW_SECONDS):
        if run.start_time is None:
            continue
        in_progress = run.end_time is None and run.dagster_run.status in _IN_PROGRESS
        end = float("inf") if in_progress else (run.end_time or run.update_timestamp.timestamp())
        distance = max(run.start_time - moment, moment - end, 0.0)
        if distance <= CLOCK_SKEW_SECONDS and (best is None or distance < best[0]):
            best = (distance, run.dagster_run.run_id)
    return best[1] if best else None


def _runs_planning(instance: dg.DagsterInstance, keys: set[dg.AssetKey], *, before: float) -> list[Any]:
    """Run records of the latest runs that planned a materialization of any of `keys` by `before`."""
    run_ids: set[str] = set()
    for key in keys:
        planned = instance.fetch_planned_materializations(
            dg.AssetRecordsFilter(asset_key=key, before_timestamp=before), limit=RUN_SCAN_LIMIT
        )
        run_ids.update(record.run_id for record in planned.records)
    if not run_ids:
        return []
    return list(instance.get_run_records(dg.RunsFilter(run_ids=sorted(run_ids))))
