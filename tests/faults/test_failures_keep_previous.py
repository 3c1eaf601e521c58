"""Faults that cannot be retried away: the run fails with a message that names the endpoint and
says what happened, and the previous materialization (its event and its stored value) stays as it
was. The server is never asked to execute more than once per ``client_query_id``.

A run terminated mid-query (SIGINT to a ``dagster asset materialize`` process) cancelling the query
on the server is covered by ``tests/assets/test_cancellation.py``, with the blocking run timeout.
"""

from __future__ import annotations

import httpx
import pytest
import respx
from fault_helpers import ORDERED_QUERY, executions_by_query_id, failure_message, resource_for

from endpoints_dagster import EndpointSpec

pytestmark = pytest.mark.integration


def first_materialization(pipeline, name: str, **fields) -> tuple[bytes, list[str]]:
    result = pipeline.materialize([name], **fields)
    assert result.success, failure_message(result)
    return pipeline.snapshot(name)


@pytest.mark.parametrize("refresh", ["force_async", "force_blocking"])
def test_a_query_error_fails_with_the_engines_message_and_keeps_the_previous_data(
    refresh, pipeline, server_control, endpoint_factory, local_client
):
    name = endpoint_factory(ORDERED_QUERY)
    before = first_materialization(pipeline, name)
    broken = {"kind": "HogQLQuery", "query": "SELECT no_such_column FROM events"}
    assert local_client.patch(f"endpoints/{name}/", json={"query": broken}).status_code == 200
    server_control.reset_stats()
    result = pipeline.materialize([EndpointSpec(name, refresh=refresh)])
    assert not result.success
    message = failure_message(result)
    assert name in message and "no_such_column" in message and "previous materialization" in message
    assert pipeline.snapshot(name) == before
    [(query_id, count)] = executions_by_query_id(server_control, name).items()
    assert count == 1 and server_control.executions(client_query_id=query_id)[0]["status"] == "failed"


ENDLESS = {
    "429": ("rate-limited", "240 query runs per minute"),
    "503": ("query engine is busy", "try again later"),
    "drop": ("failed (", "check the host, the network and that PostHog is up"),
}


@pytest.mark.parametrize("kind", sorted(ENDLESS))
def test_faults_that_never_end_fail_after_the_retries_without_executing(
    kind, pipeline, server_control, endpoint_factory
):
    name = endpoint_factory(ORDERED_QUERY)
    before = first_materialization(pipeline, name)
    server_control.reset_stats()
    server_control.set_knobs(fault_rate=1.0, fault_kinds=[kind])
    result = pipeline.materialize([name], max_retries=3)
    server_control.set_knobs(fault_rate=0.0)
    assert not result.success
    message = failure_message(result)
    assert name in message and all(fragment in message for fragment in ENDLESS[kind]), message
    assert pipeline.snapshot(name) == before
    assert server_control.executions(endpoint=name) == []
    assert server_control.request_count("POST /api/projects/{project_id}/endpoints/{name}/run/") == 4


def test_a_query_that_never_completes_is_cancelled_at_the_run_timeout(
    pipeline, server_control, endpoint_factory
):
    name = endpoint_factory(ORDERED_QUERY)
    before = first_materialization(pipeline, name)
    server_control.reset_stats()
    server_control.set_knobs(latency_by_endpoint={name: 120.0})
    result = pipeline.materialize([EndpointSpec(name, refresh="force_async")], run_timeout=1.0)
    assert not result.success
    message = failure_message(result)
    assert name in message and "run_timeout" in message
    assert pipeline.snapshot(name) == before
    [(query_id, count)] = executions_by_query_id(server_control, name).items()
    assert count == 1
    assert server_control.wait_for_execution(query_id, timeout=10)["status"] == "cancelled"
    assert server_control.request_count("DELETE /api/projects/{project_id}/query/{query_id}/") == 1


# -- answers a real server does not give: respx ----------------------------------------------------

MOCK_HOST = "http://127.0.0.1:9"
RUN = "/api/projects/1/endpoints/mocked/run/"
STATUS = "/api/projects/1/query/q1/"


def run_body(rows: list) -> dict:
    return {
        "results": rows,
        "columns": ["event", "n"],
        "types": [["event", "String"], ["n", "UInt64"]],
        "hasMore": False,
        "limit": 50000,
        "offset": 0,
        "is_cached": False,
        "timezone": "UTC",
        "name": "mocked",
        "_version": 1,
    }


def pending(query_id: str = "q1") -> dict:
    return {"query_status": {"id": query_id, "complete": False, "error": False, "query_async": True}}


MALFORMED = {
    "an HTML page instead of JSON": (
        [httpx.Response(200, text="<html><body>Sign in to PostHog</body></html>")],
        "not JSON",
    ),
    "JSON cut short": ([httpx.Response(200, text='{"results": [["$pageview", 1], ["sig')], "not JSON"),
    "a JSON list instead of an object": ([httpx.Response(200, json=[1, 2, 3])], "instead of an object"),
    "a status read that is not JSON": ([httpx.Response(202, json=pending())], "not JSON"),
    "rows that do not match the columns": (
        [httpx.Response(200, json=run_body([["$pageview", 1], ["signup"]]))],
        "row 1 has 1 values but there are 2 columns (event, n)",
    ),
    "rows that are not lists": (
        [httpx.Response(200, json=run_body([1, 2]))],
        "row 0 is int instead of a list of 2 values (event, n)",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_answers_fail_clearly_and_keep_the_previous_data(case, pipeline, local_server):
    answers, expected = MALFORMED[case]
    posthog = resource_for(MOCK_HOST, local_server, max_retries=2)
    with respx.mock(base_url=MOCK_HOST, assert_all_called=False) as api:
        api.post(RUN).respond(200, json=run_body([["$pageview", 10], ["signup", 2]]))
        before = first_materialization(pipeline, "mocked", resource=posthog)
        run = api.post(RUN).mock(side_effect=answers)
        sent_before = run.call_count
        api.get(STATUS).respond(200, text="<!doctype html><title>Bad gateway</title>")
        result = pipeline.materialize(["mocked"], resource=posthog)
    assert not result.success
    message = failure_message(result)
    assert "mocked" in message and expected in message, message
    assert local_server.api_key not in message
    assert pipeline.snapshot("mocked") == before
    assert run.call_count == sent_before + 1  # a malformed success is not resent


def test_the_stored_value_is_the_first_runs_rows(pipeline, local_server):
    """The snapshot compared above is the real stored frame (not an empty file)."""
    posthog = resource_for(MOCK_HOST, local_server)
    with respx.mock(base_url=MOCK_HOST, assert_all_called=False) as api:
        api.post(RUN).respond(200, json=run_body([["$pageview", 10], ["signup", 2]]))
        first_materialization(pipeline, "mocked", resource=posthog)
    assert pipeline.stored("mocked").to_dict("list") == {"event": ["$pageview", "signup"], "n": [10, 2]}
    assert len(pipeline.materialization_runs("mocked")) == 1
