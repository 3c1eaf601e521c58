"""Heavy endpoints on PostHog today, against the local server imitating its gateway (issue 18).

The current-dialect server's ``gateway_timeout_seconds`` knob (``--gateway-timeout``) answers a
synchronous run still computing at that point with the gateway's HTML 504, while the query goes
on. Slowness comes from the latency knob, which a read of a materialized table skips.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.client.errors import GatewayTimeoutError, ServerError
from endpoints_dagster.local.process import LocalServer

pytestmark = pytest.mark.integration

GATEWAY = 1.0  # seconds: the imitated gateway's limit, and the client's gateway_timeout
RUN_ROUTE = "POST /api/projects/{project_id}/endpoints/{name}/run/"
CANCEL_ROUTE = "DELETE /api/projects/{project_id}/query/{query_id}/"


@pytest.fixture
def client(current_server: LocalServer) -> Iterator[EndpointsClient]:
    with EndpointsClient(
        current_server.url,
        current_server.project_id,
        current_server.api_key,
        api_dialect="current",
        gateway_timeout=GATEWAY,
        max_retries=5,
        retry_initial_wait=0.05,
        retry_max_wait=0.1,
        run_timeout=60,
    ) as client:
        yield client


def test_the_gateway_answers_a_slow_synchronous_run_with_an_html_504(
    current_client, current_factory, current_control
):
    name = current_factory("SELECT 1 AS one")
    current_control.set_knobs(gateway_timeout_seconds=GATEWAY, latency_by_endpoint={name: 30})
    answer = current_client.post(f"endpoints/{name}/run/", json={"client_query_id": "gw-raw-1"})
    assert answer.status_code == 504 and answer.headers["content-type"].startswith("text/html")
    assert "504 Gateway Time-out" in answer.text
    # The query goes on behind the gateway, as PostHog's does, until it is cancelled.
    assert current_control.executions("gw-raw-1")[-1]["status"] in ("queued", "running")
    assert current_client.delete("query/gw-raw-1/").status_code in (200, 202)
    assert current_control.wait_for_execution("gw-raw-1")["status"] == "cancelled"


def test_a_slow_endpoint_fails_after_two_attempts_with_one_cancel_and_says_what_to_do(
    client, current_factory, current_control
):
    name = current_factory("SELECT 1 AS one")
    current_control.set_knobs(gateway_timeout_seconds=GATEWAY, latency_by_endpoint={name: 30})
    with pytest.raises(GatewayTimeoutError) as info:
        client.run_endpoint(name)
    message = str(info.value)
    assert "ran longer than PostHog's synchronous limit: the gateway answered 504" in message
    assert f"update_endpoint({name!r}, is_materialized=True)" in message
    assert current_control.request_count(RUN_ROUTE) == 2 and info.value.attempts == 2
    assert current_control.request_count(CANCEL_ROUTE) == 1
    (execution,) = current_control.executions(endpoint=name)  # both attempts joined one query
    assert current_control.wait_for_execution(execution["client_query_id"])["status"] == "cancelled"


def test_a_quick_503_is_still_a_blip_retried_past_two_attempts(client, current_factory, current_control):
    name = current_factory("SELECT 1 AS one")
    current_control.set_knobs(
        gateway_timeout_seconds=GATEWAY, fault_rate=1.0, fault_kinds=["503"], fault_paths=[f"/{name}/run"]
    )
    with pytest.raises(ServerError) as info:
        client.run_endpoint(name)
    assert not isinstance(info.value, GatewayTimeoutError)
    assert current_control.request_count(RUN_ROUTE) == 1 + client.max_retries


def test_a_materialized_endpoint_answers_within_the_limit(
    client, current_client, current_factory, current_control, wait_until
):
    name = current_factory("SELECT number AS n FROM numbers(3)", is_materialized=True)
    wait_until(
        lambda: (
            current_client.get(f"endpoints/{name}/").json()["materialization"].get("status") == "Completed"
        )
    )
    current_control.set_knobs(gateway_timeout_seconds=GATEWAY, latency_by_endpoint={name: 30})
    result = client.run_endpoint(name, refresh="force_blocking")
    assert result.endpoint_materialized and result.results == [[0], [1], [2]]
    assert current_control.request_count(RUN_ROUTE) == 1


def test_ensure_materialized_is_idempotent(client, current_factory, current_control):
    name = current_factory("SELECT number AS n FROM numbers(3)")
    assert client.ensure_materialized(name).is_materialized
    assert client.ensure_materialized(name).is_materialized
    assert current_control.request_count("PATCH /api/projects/{project_id}/endpoints/{name}/") == 1


def test_an_asset_asking_for_materialization_turns_it_on_and_then_reads_the_table(
    current_server, current_client, current_factory, current_control, wait_until
):
    import dagster as dg

    from endpoints_dagster import EndpointSpec, PostHogEndpointsResource, build_endpoint_assets

    name = current_factory("SELECT number AS n FROM numbers(3)")
    posthog = PostHogEndpointsResource(
        host=current_server.url,
        project_id=str(current_server.project_id),
        personal_api_key=current_server.api_key,
        api_dialect="current",
        gateway_timeout=GATEWAY,
    )
    assets = build_endpoint_assets([EndpointSpec(name, refresh="force", materialize=True)])

    def metadata_of_a_run() -> dict:
        result = dg.materialize(assets, resources={"posthog": posthog})
        [event] = result.get_asset_materialization_events()
        return event.materialization.metadata

    assert "posthog/materialized" in metadata_of_a_run()  # the first run turned materialization on
    assert current_client.get(f"endpoints/{name}/").json()["is_materialized"] is True
    wait_until(
        lambda: (
            current_client.get(f"endpoints/{name}/").json()["materialization"].get("status") == "Completed"
        )
    )
    # Heavy now (30 s per computation, the gateway cuts at 1 s), yet the table answers in time.
    current_control.set_knobs(gateway_timeout_seconds=GATEWAY, latency_by_endpoint={name: 30})
    metadata = metadata_of_a_run()
    assert metadata["posthog/materialized"].value is True
    assert metadata["posthog/materialization_status"].value == "Completed"
    assert "posthog/last_materialized_at" in metadata
    assert current_control.request_count("PATCH /api/projects/{project_id}/endpoints/{name}/") == 1
