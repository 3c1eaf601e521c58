"""Data versions of endpoint assets: unchanged results trigger nothing downstream, changed ones one run.

Against the local server over real HTTP. The endpoint's rows change by changing its query in PostHog
(a new version, which the asset runs), the way a dashboard's numbers change when data arrives.
"""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest

from endpoints_dagster import build_endpoint_assets
from endpoints_dagster.automation import endpoint_data_changed

pytestmark = pytest.mark.integration


@pytest.fixture
def endpoint(endpoint_factory) -> str:
    return endpoint_factory("SELECT event, count() AS n FROM events GROUP BY event ORDER BY event")


def change_rows(local_client, name: str) -> None:
    query = "SELECT event, count() AS n FROM events WHERE event != '$pageview' GROUP BY event ORDER BY event"
    body = {"query": {"kind": "HogQLQuery", "query": query}}
    assert local_client.patch(f"endpoints/{name}/", json=body).status_code == 200


def graph(endpoint: str):
    assets = build_endpoint_assets([endpoint], schema_checks=False)
    key = dg.AssetKey(["posthog", endpoint])

    @dg.asset(deps=[key], automation_condition=endpoint_data_changed())
    def report() -> None: ...

    return assets, key, report


def data_version(instance: dg.DagsterInstance, key: dg.AssetKey) -> str:
    record = instance.fetch_materializations(key, limit=1).records[0]
    return record.asset_materialization.tags["dagster/data_version"]


def stale_status(defs: dg.Definitions, instance: dg.DagsterInstance, key: dg.AssetKey) -> StaleStatus:
    resolver = CachingStaleStatusResolver(
        instance, defs.resolve_asset_graph(), loading_context=LoadingContextForTest(instance)
    )
    return resolver.get_status(key)


def test_the_materialization_reports_the_results_data_version(posthog, endpoint, local_client):
    assets, key, _ = graph(endpoint)
    instance = dg.DagsterInstance.ephemeral()
    first = dg.materialize(assets, resources={"posthog": posthog}, instance=instance)
    version = data_version(instance, key)
    with posthog.get_client() as client:
        assert version == client.run_endpoint(endpoint).data_version
    dg.materialize(assets, resources={"posthog": posthog}, instance=instance)
    assert data_version(instance, key) == version  # recomputed (force_async), same rows: same version
    change_rows(local_client, endpoint)
    dg.materialize(assets, resources={"posthog": posthog}, instance=instance)
    assert data_version(instance, key) != version
    assert first.success


def test_downstream_is_not_stale_after_an_unchanged_refresh_and_is_after_a_change(
    posthog, endpoint, local_client
):
    assets, _key, report = graph(endpoint)
    defs = dg.Definitions(assets=[*assets, report], resources={"posthog": posthog})
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([*assets, report], resources={"posthog": posthog}, instance=instance)

    dg.materialize(assets, resources={"posthog": posthog}, instance=instance)
    assert stale_status(defs, instance, report.key) == StaleStatus.FRESH

    change_rows(local_client, endpoint)
    dg.materialize(assets, resources={"posthog": posthog}, instance=instance)
    assert stale_status(defs, instance, report.key) == StaleStatus.STALE


def test_an_unchanged_refresh_launches_nothing_and_a_changed_one_exactly_one_run(
    posthog, endpoint, local_client
):
    assets, _key, report = graph(endpoint)
    defs = dg.Definitions(assets=[*assets, report], resources={"posthog": posthog})
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([*assets, report], resources={"posthog": posthog}, instance=instance)
    baseline = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert baseline.total_requested == 0

    # The scheduled refresh: the endpoint runs again and returns the same rows.
    dg.materialize(assets, resources={"posthog": posthog}, instance=instance)
    unchanged = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=baseline.cursor)
    assert unchanged.total_requested == 0

    # New data in PostHog: the next refresh lands other rows, and the report runs once.
    change_rows(local_client, endpoint)
    dg.materialize(assets, resources={"posthog": posthog}, instance=instance)
    changed = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=unchanged.cursor)
    # One asset requested, unpartitioned: the daemon launches exactly one run for it.
    assert changed.total_requested == 1 and changed.get_num_requested(report.key) == 1

    again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=changed.cursor)
    assert again.total_requested == 0  # one run per change, not one per tick


def test_parents_narrows_the_condition_to_endpoint_assets(posthog, endpoint):
    assets, key, _ = graph(endpoint)

    @dg.asset
    def other() -> int:
        return 1

    @dg.asset(
        deps=[key, other],
        automation_condition=endpoint_data_changed(parents=dg.AssetSelection.kind("posthog")),
    )
    def narrowed() -> None: ...

    defs = dg.Definitions(assets=[*assets, other, narrowed], resources={"posthog": posthog})
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([*assets, other, narrowed], resources={"posthog": posthog}, instance=instance)
    baseline = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    dg.materialize([other], instance=instance)  # a new data version of a parent that is no endpoint
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=baseline.cursor)
    assert after.total_requested == 0
