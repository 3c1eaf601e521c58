"""``--dialect current`` checks a HogQL query when it is saved (create, or update with a query), over HTTP.

Each test names the PostHog test (``products/endpoints/backend/tests/``) or, where none was found,
the PostHog source (``logic/validation.py``) whose behaviour it holds the local server to.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

DIRECT_CONNECTION = (
    "Endpoints can't query a direct connection. "
    "Switch the connection to PostHog (ClickHouse) and query a synced table instead."
)
VARIABLES_DOCS = "See https://posthog.com/docs/endpoints/variables for detail."


def refusal(detail: str, attr: str | None = "query") -> dict:
    return {"type": "validation_error", "code": "invalid_input", "detail": detail, "attr": attr}


def variable(code_name: str, variable_id: str, value: object = 1) -> dict:
    return {variable_id: {"variableId": variable_id, "code_name": code_name, "value": value}}


def create(client: httpx.Client, query: dict, **fields) -> httpx.Response:
    return client.post("endpoints/", json={"name": f"q_{uuid.uuid4().hex[:10]}", "query": query} | fields)


@pytest.mark.parametrize("text", ["selet 100", "SELECT FROM invalid_syntax", "SELECT count( FROM events"])
def test_a_query_that_does_not_parse_is_refused_at_create(current_client, text):
    """test_endpoint.py::test_cannot_create_endpoint_with_invalid_sql (400, validation_error)."""
    name = f"q_{uuid.uuid4().hex[:10]}"
    r = create(current_client, {"kind": "HogQLQuery", "query": text}, name=name)
    body = r.json()
    assert r.status_code == 400 and body["type"] == "validation_error" and body["attr"] == "query"
    assert body["detail"].startswith("Invalid HogQL query: ")
    assert current_client.get(f"endpoints/{name}/").status_code == 404  # nothing half-made


def test_a_query_that_does_not_parse_is_refused_at_update_and_keeps_the_version(
    current_client, current_factory
):
    """logic/validation.py::validate_update_request validates a new query as create does."""
    name = current_factory("SELECT 1 AS one")
    r = current_client.patch(f"endpoints/{name}/", json={"query": {"kind": "HogQLQuery", "query": "SELEC 2"}})
    assert r.status_code == 400 and r.json()["detail"].startswith("Invalid HogQL query: ")
    assert current_client.get(f"endpoints/{name}/").json()["current_version"] == 1


def test_a_placeholder_without_a_declared_variable_is_named(current_client):
    """PostHog PR #47622 (validate_variable_placeholders): undefined code names, sorted, in one 400."""
    query = {
        "kind": "HogQLQuery",
        "query": "SELECT {variables.b} AS b, {variables.a} AS a, {variables.n} AS n",
    }
    query["variables"] = variable("n", str(uuid.uuid4()))
    r = create(current_client, query)
    assert (r.status_code, r.json()) == (
        400,
        refusal(f"Query references undefined variable(s): a, b. {VARIABLES_DOCS}"),
    )


def test_a_used_variable_whose_id_is_not_a_uuid_is_refused(current_client):
    """logic/validation.py::validate_variable_placeholders (trailing space included, as PostHog sends it)."""
    query = {"kind": "HogQLQuery", "query": "SELECT {variables.n} AS n", "variables": variable("n", "var-n")}
    r = create(current_client, query)
    assert (r.status_code, r.json()) == (400, refusal("Variable ID(s) not valid UUIDs: var-n. "))


def test_uuid_ids_pass_and_unused_declarations_are_not_held_to_it(current_client):
    """logic/validation.py::sync_hogql_query_variables drops unused declarations before ids are checked."""
    variables = {**variable("n", str(uuid.uuid4())), **variable("unused", "not-a-uuid")}
    r = create(
        current_client, {"kind": "HogQLQuery", "query": "SELECT {variables.n} AS n", "variables": variables}
    )
    assert r.status_code == 201, r.text
    current_client.delete(f"endpoints/{r.json()['name']}/")


def test_a_direct_connection_is_refused_before_anything_else(current_client, current_factory):
    """test_direct_connection_validation.py::test_creating_an_endpoint_over_a_direct_connection_is_refused
    and ::test_a_direct_connection_query_is_refused_by_name (even a query that would not parse)."""
    for text in ("SELECT id FROM public.users", "selet"):
        r = create(current_client, {"kind": "HogQLQuery", "query": text, "connectionId": str(uuid.uuid4())})
        assert (r.status_code, r.json()) == (400, refusal(DIRECT_CONNECTION))
    name = current_factory("SELECT 1 AS one")
    query = {"kind": "HogQLQuery", "query": "SELECT 2 AS two", "connectionId": str(uuid.uuid4())}
    r = current_client.patch(f"endpoints/{name}/", json={"query": query})
    assert (r.status_code, r.json()) == (400, refusal(DIRECT_CONNECTION))


def test_the_documented_dialect_refuses_a_broken_query_as_a_bad_request_too(local_client):
    """The documented server's query allowlist also judges a query when it is saved: a 400 on `query`."""
    body = {"name": f"q_{uuid.uuid4().hex[:10]}", "query": {"kind": "HogQLQuery", "query": "selet 100"}}
    refused = local_client.post("endpoints/", json=body)
    assert refused.status_code == 400 and refused.json()["attr"] == "query"


def test_the_client_reports_the_refusal_with_the_field(current_server):
    """The integration's client, unchanged, surfaces PostHog's message and field."""
    from endpoints_dagster import EndpointsClient
    from endpoints_dagster.client.errors import InvalidRequestError

    with EndpointsClient(current_server.url, current_server.project_id, current_server.api_key) as client:
        with pytest.raises(InvalidRequestError) as refused:
            client.create_endpoint(f"q_{uuid.uuid4().hex[:10]}", "SELECT 1 AS one FROM events WHERE")
    assert refused.value.attr == "query" and "Invalid HogQL query" in refused.value.message
