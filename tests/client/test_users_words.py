"""Mistakes a new user makes, caught early and told in their words (issue 14), against the local server."""

from __future__ import annotations

import uuid

import pytest

from endpoints_dagster import EndpointNotFoundError, EndpointsClient, InvalidRequestError

pytestmark = pytest.mark.integration


@pytest.fixture
def local_server(any_dialect_server):
    return any_dialect_server


@pytest.fixture
def client(local_server):
    with EndpointsClient(local_server.url, local_server.project_id, local_server.api_key) as client:
        yield client


def _name() -> str:
    return f"t_words_{uuid.uuid4().hex[:8]}"


SINCE_QUERY = (
    "SELECT toDate(timestamp) AS day, count() AS n FROM events "
    "WHERE timestamp >= {variables.since} GROUP BY day ORDER BY day"
)


def test_create_endpoint_declares_plain_variables_and_runs_with_them(client):
    name = _name()
    try:
        created = client.create_endpoint(name, SINCE_QUERY, variables={"since": "2026-01-01"})
        assert [(v.code_name, v.value) for v in created.variables] == [("since", "2026-01-01")]
        stored = client.get_endpoint(name).query["variables"]
        ((variable_id, declared),) = stored.items()
        assert declared == {"variableId": variable_id, "code_name": "since", "value": "2026-01-01"}
        assert client.run_endpoint(name, variables={"since": "2020-01-01"}).row_count > 0
    finally:
        client.delete_endpoint(name)


def test_an_undeclared_placeholder_is_refused_before_sending(client, server_control):
    name = _name()
    server_control.reset_stats()
    with pytest.raises(InvalidRequestError) as caught:
        client.create_endpoint(name, SINCE_QUERY)
    message = str(caught.value)
    assert name in message and "{variables.since}" in message and "variables={'since': ...}" in message
    assert caught.value.attr == "variables"
    with pytest.raises(EndpointNotFoundError):
        client.get_endpoint(name)  # nothing was created


def test_update_keeps_variable_ids_and_refuses_a_new_undeclared_one(client):
    name = _name()
    try:
        first = client.create_endpoint(name, SINCE_QUERY, variables={"since": "2026-01-01"})
        updated = client.update_endpoint(name, variables={"since": "2025-06-01"})
        kept_id = first.variables[0].variable_id
        assert [(v.variable_id, v.value) for v in updated.variables] == [(kept_id, "2025-06-01")]
        with_until = SINCE_QUERY.replace("GROUP", "AND timestamp < {variables.until} GROUP")
        with pytest.raises(InvalidRequestError, match=r"does not declare the variable\(s\) until"):
            client.update_endpoint(name, query=with_until)
        # A new query using the declared variable keeps its declaration.
        again = client.update_endpoint(name, query=SINCE_QUERY.replace("count()", "uniq(distinct_id)"))
        assert [v.code_name for v in again.variables] == ["since"]
    finally:
        client.delete_endpoint(name)


def test_an_unknown_variable_is_named_as_passed_with_the_real_ones(client):
    name = _name()
    try:
        client.create_endpoint(name, SINCE_QUERY, variables={"since": "2026-01-01"})
        with pytest.raises(InvalidRequestError) as caught:
            client.run_endpoint(name, variables={"sinse": "2026-01-01"})
        message = str(caught.value)
        assert "'sinse'" in message and "`variables`" in message
        assert "Its variables are: since." in message and "Did you mean 'since'?" in message
        assert "variables_values" not in message
        assert caught.value.attr == "variables"
    finally:
        client.delete_endpoint(name)


def test_a_missing_endpoint_names_project_host_and_a_close_name(client, local_server):
    with pytest.raises(EndpointNotFoundError) as caught:
        client.run_endpoint("daily_signup")
    message = str(caught.value)
    assert f"project {local_server.project_id}" in message and local_server.url in message
    assert "Did you mean 'daily_signups'?" in message
    assert local_server.api_key not in message


def test_a_wrong_project_id_says_the_project_is_empty(local_server):
    with EndpointsClient(local_server.url, 999, local_server.api_key) as client:
        with pytest.raises(Exception) as caught:
            client.run_endpoint("daily_signups")
    message = str(caught.value)
    assert "999" in message
