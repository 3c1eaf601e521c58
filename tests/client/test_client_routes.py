"""Every route of the contract: method, path, query, body, headers, and the parsed result."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from client_fakes import BASE, HOST, KEY, PROJECT, QUERY, endpoint_json, status_json

from endpoints_dagster import __version__
from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.client.models import Endpoint, EndpointVersion, QueryStatus


def body_of(route) -> dict:
    return json.loads(route.calls.last.request.content)


def test_every_request_carries_bearer_key_and_user_agent(client, api):
    route = api.get(BASE).respond(json={"results": []})
    client.list_endpoints()
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["user-agent"] == f"endpoints-dagster/{__version__}"
    assert KEY not in str(request.url)


def test_custom_user_agent_is_appended_to_ours(fake_time, api):
    route = api.get(BASE).respond(json={"results": []})
    with EndpointsClient(HOST, PROJECT, KEY, user_agent="my-pipeline/2") as client:
        client.list_endpoints()
    assert route.calls.last.request.headers["user-agent"] == f"endpoints-dagster/{__version__} my-pipeline/2"


def test_list_endpoints_parses_and_filters(client, api):
    route = api.get(BASE).respond(json={"results": [endpoint_json("a"), endpoint_json("b", is_active=False)]})
    endpoints = client.list_endpoints(is_active=False, created_by=7)
    assert route.calls.last.request.url.params == httpx.QueryParams({"is_active": "false", "created_by": "7"})
    assert [e.name for e in endpoints] == ["a", "b"]
    assert endpoints[1].is_active is False


def test_list_endpoints_without_filters_sends_no_params(client, api):
    route = api.get(BASE).respond(json={"results": []})
    assert client.list_endpoints() == []
    assert route.calls.last.request.url.query == b""


def test_get_endpoint_parses_every_field(client, api):
    api.get(f"{BASE}daily_signups/").respond(json=endpoint_json(last_executed_at="2026-11-20T08:00:00Z"))
    endpoint = client.get_endpoint("daily_signups")
    assert isinstance(endpoint, Endpoint)
    assert endpoint.name == "daily_signups"
    assert endpoint.hogql.startswith("SELECT toDate(timestamp)")
    assert [(v.code_name, v.variable_id, v.value) for v in endpoint.variables] == [
        ("since", "v-1", "2026-01-01")
    ]
    assert (
        endpoint.cache_age_seconds == 3600 and endpoint.current_version == 2 and endpoint.versions_count == 2
    )
    assert endpoint.materialization == {"can_materialize": True, "reason": None}
    assert endpoint.created_at == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert endpoint.updated_at == datetime(2026, 1, 2, 0, 0, 0, 123000, tzinfo=timezone.utc)
    assert endpoint.last_executed_at == datetime(2026, 11, 20, 8, tzinfo=timezone.utc)
    assert endpoint.raw["some_future_key"] == {"ignored": True}


def test_create_endpoint_with_hogql_text(client, api):
    route = api.post(BASE).respond(201, json=endpoint_json("new_one"))
    endpoint = client.create_endpoint("new_one", "SELECT 1", description="d", cache_age_seconds=300)
    assert body_of(route) == {
        "name": "new_one",
        "query": {"kind": "HogQLQuery", "query": "SELECT 1"},
        "description": "d",
        "cache_age_seconds": 300,
    }
    assert route.calls.last.request.headers["content-type"] == "application/json"
    assert endpoint.name == "new_one"


def test_create_endpoint_with_query_dict_and_flags(client, api):
    route = api.post(BASE).respond(201, json=endpoint_json("new_one"))
    query = {"kind": "TrendsQuery", "series": []}
    client.create_endpoint("new_one", query, is_active=False, is_materialized=True)
    assert body_of(route) == {"name": "new_one", "query": query, "is_active": False, "is_materialized": True}


def test_update_endpoint_patches_only_given_fields(client, api):
    route = api.patch(f"{BASE}daily_signups/").respond(json=endpoint_json(description="new"))
    endpoint = client.update_endpoint("daily_signups", description="new", query="SELECT 2")
    assert body_of(route) == {"description": "new", "query": {"kind": "HogQLQuery", "query": "SELECT 2"}}
    assert endpoint.description == "new"


def test_delete_endpoint_accepts_204(client, api):
    route = api.delete(f"{BASE}daily_signups/").respond(204)
    assert client.delete_endpoint("daily_signups") is None
    assert route.call_count == 1


def test_list_versions_plain_array(client, api):
    versions = [
        {
            "id": "v2",
            "version": 2,
            "query": {"kind": "HogQLQuery", "query": "SELECT 2"},
            "is_active": True,
            "created_at": "2026-01-02T00:00:00+00:00",
            "created_by": None,
        },
        {
            "id": "v1",
            "version": 1,
            "query": {"kind": "HogQLQuery", "query": "SELECT 1"},
            "is_active": False,
            "created_at": "2026-01-01T00:00:00Z",
            "created_by": {"id": 1},
        },
    ]
    api.get(f"{BASE}daily_signups/versions/").respond(json=versions)
    parsed = client.list_versions("daily_signups")
    assert [(v.version, v.is_active, v.hogql) for v in parsed] == [
        (2, True, "SELECT 2"),
        (1, False, "SELECT 1"),
    ]
    assert all(v.created_at.tzinfo is not None for v in parsed)


def test_get_version(client, api):
    api.get(f"{BASE}daily_signups/versions/1/").respond(
        json={
            "id": "v1",
            "version": 1,
            "query": {"kind": "HogQLQuery", "query": "SELECT 1"},
            "is_active": True,
            "created_at": "2026-01-01T00:00:00Z",
        }
    )
    version = client.get_version("daily_signups", 1)
    assert isinstance(version, EndpointVersion) and version.version == 1 and version.id == "v1"


@pytest.mark.parametrize("bad", [0, -1, "2", True, 1.5])
def test_get_version_refuses_non_positive_int_before_sending(client, api, bad):
    with pytest.raises(ValueError):
        client.get_version("daily_signups", bad)
    assert not api.calls


def test_last_execution_times_parses_wrapper_with_both_offsets(client, api):
    route = api.post(f"{BASE}last_execution_times/").respond(
        json={
            "query_status": {
                "id": "",
                "team_id": 1,
                "complete": True,
                "error": False,
                "results": [
                    ["a", "2026-11-20T08:00:00.123456+00:00"],
                    ["b", "2026-11-21T09:30:00Z"],
                ],
            }
        }
    )
    times = client.last_execution_times(["a", "b", "never"])
    assert body_of(route) == {"names": ["a", "b", "never"]}
    assert times == {
        "a": datetime(2026, 11, 20, 8, 0, 0, 123456, tzinfo=timezone.utc),
        "b": datetime(2026, 11, 21, 9, 30, tzinfo=timezone.utc),
    }
    assert all(t.utcoffset() == timedelta(0) for t in times.values())


def test_last_execution_times_skips_unreadable_times(client, api):
    api.post(f"{BASE}last_execution_times/").respond(
        json={
            "query_status": {"complete": True, "results": [["a", "yesterday"], ["b", "2026-11-21 09:30:00"]]}
        }
    )
    assert client.last_execution_times(["a", "b"]) == {
        "b": datetime(2026, 11, 21, 9, 30, tzinfo=timezone.utc)
    }


def test_last_execution_times_null_results_is_empty(client, api):
    api.post(f"{BASE}last_execution_times/").respond(
        json={"query_status": {"id": "", "complete": True, "results": None}}
    )
    assert client.last_execution_times(["a"]) == {}


def test_last_execution_times_of_no_names_sends_nothing(client, api):
    assert client.last_execution_times([]) == {}
    assert not api.calls


def test_get_query_status_running_and_complete(client, api):
    route = api.get(f"{QUERY}q1/").mock(
        side_effect=[
            httpx.Response(202, json=status_json("q1")),
            httpx.Response(200, json=status_json("q1", complete=True, results={"results": []})),
        ]
    )
    running = client.get_query_status("q1")
    assert isinstance(running, QueryStatus) and not running.complete
    assert running.query_progress.rows_read == 10 and running.query_progress.estimated_rows_total == 50
    assert route.calls.last.request.url.params["show_progress"] == "true"
    done = client.get_query_status("q1", show_progress=False)
    assert done.complete and done.results == {"results": []} and done.duration == 2.5
    assert "show_progress" not in route.calls.last.request.url.params


def test_get_query_status_failed_query_answers_400_with_status(client, api):
    api.get(f"{QUERY}q1/").respond(
        400, json=status_json("q1", complete=True, error=True, error_message="boom")
    )
    status = client.get_query_status("q1")
    assert status.error and status.error_message == "boom"


@pytest.mark.parametrize(
    "answer", [httpx.Response(200, json={"message": "Query task revoked"}), httpx.Response(204)]
)
def test_cancel_query_accepts_200_and_204(client, api, answer):
    route = api.delete(f"{QUERY}q1/").mock(return_value=answer)
    assert client.cancel_query("q1") is None
    assert route.call_count == 1


@pytest.mark.parametrize("bad", ["../x", "a/b", "", "a b"])
def test_query_ids_are_path_safe(client, api, bad):
    with pytest.raises(ValueError):
        client.get_query_status(bad)
    assert not api.calls


def test_one_connection_pool_closed_by_with_block(api):
    api.get(BASE).respond(json={"results": []})
    with EndpointsClient(HOST, PROJECT, KEY) as client:
        client.list_endpoints()
        client.list_endpoints()
        pool = client._http._client
        assert not pool.is_closed
    assert pool.is_closed


def test_host_with_trailing_slash_and_path_prefix(api):
    route = api.get(f"/prefix{BASE}").respond(json={"results": []})
    with EndpointsClient(f"{HOST}/prefix/", "42", KEY) as client:
        client.list_endpoints()
        assert client.host == f"{HOST}/prefix" and client.project_id == 42
    assert route.call_count == 1


def test_ui_url_for(client):
    assert client.ui_url_for("daily_signups") == f"{HOST}/project/{PROJECT}/endpoints/daily_signups"
    endpoint = Endpoint.from_api(endpoint_json(ui_url="https://app.example/x"))
    assert client.ui_url_for(endpoint) == "https://app.example/x"
