"""Endpoint files in Dagster: a changed file shows the asset stale; materializing deploys it, then runs it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleCauseCategory, StaleStatus
from dagster._core.loader import LoadingContextForTest

from endpoints_dagster import (
    EndpointsClient,
    PostHogEndpointsResource,
    build_endpoint_assets,
    load_endpoint_file_specs,
)
from endpoints_dagster.local.process import LocalServer

pytestmark = pytest.mark.integration

Write = Callable[[str, str], Path]

QUERY = """\
-- description: Purchases per plan.
-- variables:
--   min_revenue: {type: Number, default: 0}
-- tags: [finance]

SELECT properties.plan AS plan, count() AS purchases
FROM events
WHERE event = 'purchase' AND toFloat(properties.revenue) >= {variables.min_revenue}
GROUP BY plan
ORDER BY plan
"""


@pytest.fixture
def local_server(any_dialect_server: LocalServer) -> LocalServer:
    return any_dialect_server


@pytest.fixture
def posthog(local_server: LocalServer) -> PostHogEndpointsResource:
    return PostHogEndpointsResource(
        host=local_server.url, project_id=str(local_server.project_id), personal_api_key=local_server.api_key
    )


def _requests(server: LocalServer) -> int:
    return sum(server.control.stats()["requests"].values())


def _status(instance: dg.DagsterInstance, defs: dg.Definitions, key: dg.AssetKey) -> tuple[StaleStatus, list]:
    resolver = CachingStaleStatusResolver(
        instance, defs.resolve_asset_graph(), LoadingContextForTest(instance)
    )
    return resolver.get_status(key), [c.category for c in resolver.get_stale_causes(key)]


def _materialize(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.AssetMaterialization:
    result = dg.materialize(defs.assets or [], instance=instance, resources=defs.resources)  # type: ignore[arg-type]
    [event] = result.asset_materializations_for_node(result.all_node_events[0].node_name)
    return event


def test_a_changed_file_is_stale_and_materializing_deploys_then_runs_the_new_version(
    write: Write,
    folder: Path,
    prefix: str,
    local_server: LocalServer,
    posthog: PostHogEndpointsResource,
    as_code_client: EndpointsClient,
) -> None:
    name = f"{prefix}purchases"
    write(name, QUERY)
    key = dg.AssetKey(["posthog", name])

    def load() -> dg.Definitions:
        before = _requests(local_server)
        defs = dg.Definitions(
            assets=build_endpoint_assets(load_endpoint_file_specs(folder)), resources={"posthog": posthog}
        )
        defs.resolve_asset_graph()
        assert _requests(local_server) == before + 1, (
            "loading definitions made a request"
        )  # +1: the stats read
        return defs

    defs = load()
    spec = defs.resolve_assets_def(key).specs_by_key[key]
    assert spec.code_version == load_endpoint_file_specs(folder)[0].source.code_version  # type: ignore[union-attr]
    assert "finance" in spec.tags and spec.metadata["posthog/file"] == str(folder / f"{name}.sql")

    with dg.instance_for_test() as instance:
        assert _status(instance, defs, key)[0] == StaleStatus.MISSING
        first = _materialize(defs, instance)
        assert first.metadata["posthog/deploy"].value == "created"
        assert first.metadata["posthog/deployed_version"].value == 1
        assert first.metadata["posthog/version"].value == 1
        assert _status(instance, defs, key) == (StaleStatus.FRESH, [])

        write(name, QUERY.replace("ORDER BY plan", "ORDER BY purchases DESC"))
        defs = load()
        assert _status(instance, defs, key) == (StaleStatus.STALE, [StaleCauseCategory.CODE])
        assert as_code_client.get_endpoint(name).current_version == 1  # loading deployed nothing

        second = _materialize(defs, instance)
        assert second.metadata["posthog/deploy"].value == "new version"
        assert second.metadata["posthog/deployed_version"].value == 2
        assert second.metadata["posthog/version"].value == 2  # the run executed the version it deployed
        assert "+ORDER BY purchases DESC" in second.metadata["posthog/query_diff"].value
        assert as_code_client.get_endpoint(name).current_version == 2
        assert _status(instance, defs, key) == (StaleStatus.FRESH, [])

        third = _materialize(defs, instance)  # the file is unchanged: no new version
        assert third.metadata["posthog/deploy"].value == "unchanged"
        assert as_code_client.get_endpoint(name).current_version == 2


def test_a_spec_from_a_file_refuses_a_pinned_version(write: Write, folder: Path) -> None:
    write("pinned", "SELECT 1")
    with pytest.raises(ValueError, match="runs the version it deploys"):
        load_endpoint_file_specs(folder, endpoints={"pinned": {"version": 1}})
    with pytest.raises(ValueError, match=r"\['nope'\] have no file"):
        load_endpoint_file_specs(folder, endpoints={"nope": {}})
