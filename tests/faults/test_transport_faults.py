"""Transport faults on the way to the local server: the assets land the exact rows, and retries
never execute a query twice.

The local server injects 429s (without ``Retry-After``: only "Expected available in N seconds"),
503s and dropped connections before its app sees a request; a loopback proxy cuts responses in
the middle of their body (the query ran: only a resend under the same ``client_query_id`` avoids a
second execution); a short ``request_timeout`` makes the client give up on a query still running.
Each materialization is checked against a clean run of the same endpoint, and the server's
execution log is counted per ``client_query_id``.
"""

from __future__ import annotations

import pandas as pd
import pytest
from fault_helpers import ORDERED_QUERY, executions_by_query_id, failure_message

from endpoints_dagster import EndpointSpec

pytestmark = pytest.mark.integration

RUN_ROUTE = "POST /api/projects/{project_id}/endpoints/{name}/run/"
STATUS_ROUTE = "GET /api/projects/{project_id}/query/{query_id}/"
# Per materialization: at a 50% fault rate, 12 endpoints (12-36 requests) all pass unfaulted with a
# chance under 1 in 4,000; 40 retries fail a request with a chance under 1 in 10^6 at 70%.
ENDPOINTS = 12
RETRIES = 40

SCENARIOS = {
    "429 storm without Retry-After": dict(fault_rate=0.7, fault_kinds=["429"]),
    "503 blips": dict(fault_rate=0.5, fault_kinds=["503"]),
    "dropped connections": dict(fault_rate=0.5, fault_kinds=["drop"]),
    "all kinds at once": dict(fault_rate=0.5, fault_kinds=["429", "503", "drop"]),
}


def requests_made(control) -> int:
    requests = control.stats()["requests"]
    return requests.get(RUN_ROUTE, 0) + requests.get(STATUS_ROUTE, 0)


@pytest.mark.parametrize("refresh", ["force_async", "force_blocking"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_injected_faults_are_retried_to_the_exact_rows_with_one_execution_each(
    scenario, refresh, pipeline, server_control, endpoint_factory, expected_frame
):
    names = [endpoint_factory(ORDERED_QUERY) for _ in range(ENDPOINTS)]
    expected = {name: expected_frame(name) for name in names}
    server_control.reset_stats()
    server_control.set_knobs(**SCENARIOS[scenario])
    result = pipeline.materialize(
        [EndpointSpec(name, refresh=refresh) for name in names], max_retries=RETRIES
    )
    server_control.set_knobs(fault_rate=0.0)
    assert result.success, failure_message(result)
    for name in names:
        pd.testing.assert_frame_equal(pipeline.stored(name), expected[name])
        assert list(executions_by_query_id(server_control, name).values()) == [1], name
    # The faults did happen: more requests reached the server than a clean run needs.
    clean = ENDPOINTS if refresh == "force_blocking" else 2 * ENDPOINTS
    assert requests_made(server_control) > clean


@pytest.mark.parametrize("refresh", ["force_async", "force_blocking"])
def test_a_response_cut_mid_body_is_resent_and_answered_by_the_same_execution(
    refresh, pipeline, server_control, endpoint_factory, expected_frame, cutting_proxy
):
    name = endpoint_factory(ORDERED_QUERY)
    expected = expected_frame(name)
    server_control.reset_stats()
    cutting_proxy.cut(2)  # the run answer, then the resend's answer too
    result = pipeline.materialize([EndpointSpec(name, refresh=refresh)], url=cutting_proxy.url)
    assert result.success, failure_message(result)
    assert cutting_proxy.cuts == 2
    pd.testing.assert_frame_equal(pipeline.stored(name), expected)
    assert server_control.request_count(RUN_ROUTE) == 3
    [(query_id, count)] = executions_by_query_id(server_control, name).items()
    assert count == 1 and server_control.executions(client_query_id=query_id)[0]["status"] == "completed"


def test_read_timeouts_on_a_running_query_resend_it_under_the_same_id(
    pipeline, server_control, endpoint_factory, expected_frame
):
    name = endpoint_factory(ORDERED_QUERY)
    expected = expected_frame(name)
    server_control.reset_stats()
    server_control.set_knobs(latency_by_endpoint={name: 1.5})
    # The blocking answer takes 1.5 s; each request gives up after 0.4 s and is resent.
    result = pipeline.materialize(
        [EndpointSpec(name, refresh="force_blocking")], request_timeout=0.4, max_retries=RETRIES
    )
    assert result.success, failure_message(result)
    pd.testing.assert_frame_equal(pipeline.stored(name), expected)
    assert server_control.request_count(RUN_ROUTE) >= 3
    assert list(executions_by_query_id(server_control, name).values()) == [1]
