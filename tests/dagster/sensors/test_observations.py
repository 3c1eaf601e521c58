"""Endpoints as triggers: observations record the result's data version without storing rows.

Against the local server over real HTTP, on both API dialects (``blocking`` is a cached run on the
documented one and ``cache`` on PostHog today).
"""

from __future__ import annotations

import dagster as dg
import pytest

from endpoints_dagster import EndpointSpec, PostHogEndpointsResource, endpoint_data_changed
from endpoints_dagster.sensors.observations import build_endpoint_observations

pytestmark = pytest.mark.integration

QUERY = "SELECT event, count() AS n FROM events WHERE event != {variables.skip} GROUP BY event ORDER BY event"


@pytest.fixture
def local_server(any_dialect_server):
    return any_dialect_server


@pytest.fixture
def endpoint(endpoint_factory) -> str:
    return endpoint_factory(QUERY, variables={"skip": "$pageview"})


def setup(endpoint: str, posthog: PostHogEndpointsResource):
    observed = build_endpoint_observations([EndpointSpec(endpoint, variables={"skip": "signup"})])
    key = dg.AssetKey(["posthog", "observed", endpoint])

    @dg.asset(deps=[key], automation_condition=endpoint_data_changed())
    def report() -> None: ...

    job = dg.define_asset_job("observe_posthog", selection=dg.AssetSelection.assets(observed))
    defs = dg.Definitions(assets=[observed, report], jobs=[job], resources={"posthog": posthog})
    return defs, key, report


def observe(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.AssetObservation:
    result = defs.resolve_job_def("observe_posthog").execute_in_process(instance=instance)
    [observation] = result.asset_observations_for_node(result.dagster_run.step_keys_to_execute[0])
    return observation


def test_an_observation_records_the_results_data_version_and_no_rows(posthog, endpoint, local_server):
    defs, key, _ = setup(endpoint, posthog)
    instance = dg.DagsterInstance.ephemeral()
    first = observe(defs, instance)
    with posthog.get_client() as client:
        expected = client.run_endpoint(endpoint, variables={"skip": "signup"})
    assert first.asset_key == key
    assert first.tags["dagster/data_version"] == expected.data_version
    assert first.metadata["dagster/row_count"].value == expected.row_count > 0
    assert first.metadata["posthog/refresh"].value == "blocking"
    assert local_server.api_key not in repr(first.metadata)

    second = observe(defs, instance)
    assert second.metadata["posthog/is_cached"].value is True  # asked PostHog's cache, not the engine
    assert second.tags["dagster/data_version"] == first.tags["dagster/data_version"]


def test_only_a_changed_observation_runs_the_downstream_asset(posthog, endpoint, local_client):
    defs, _key, report = setup(endpoint, posthog)
    instance = dg.DagsterInstance.ephemeral()
    observe(defs, instance)
    baseline = dg.evaluate_automation_conditions(defs=defs, instance=instance)

    observe(defs, instance)  # same rows
    unchanged = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=baseline.cursor)
    assert unchanged.total_requested == 0

    # New rows: the same variable, another aggregate (the variable keeps its saved default).
    saved = local_client.get(f"endpoints/{endpoint}/").json()["query"]["variables"]
    query = {"kind": "HogQLQuery", "query": QUERY.replace("count()", "uniq(distinct_id)"), "variables": saved}
    assert local_client.patch(f"endpoints/{endpoint}/", json={"query": query}).status_code == 200
    observe(defs, instance)
    changed = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=unchanged.cursor)
    assert changed.total_requested == 1 and changed.get_num_requested(report.key) == 1


def test_an_endpoint_listed_twice_or_an_unknown_refresh_is_refused():
    with pytest.raises(ValueError, match="twice"):
        build_endpoint_observations(["top_events", EndpointSpec("top_events")])
    with pytest.raises(ValueError, match="refresh"):
        build_endpoint_observations(["top_events"], refresh="sometimes")
