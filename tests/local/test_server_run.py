"""Runs over HTTP against the subprocess server: variables, versions, paging, refresh modes and cache.

The cache tests age results with the ``clock_offset_seconds`` knob instead of waiting.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

EVENTS = 20_000  # tests/conftest.py LOCAL_EVENTS
INJECTION = "'; DROP TABLE events; --"
RUN_RESULT_KEYS = {
    "results",
    "columns",
    "types",
    "hasMore",
    "limit",
    "offset",
    "is_cached",
    "cache_key",
    "last_refresh",
    "next_allowed_client_refresh",
    "timezone",
    "query_status",
    "name",
    "_version",
    "_version_created_at",
}


def run(client: httpx.Client, name: str, **body) -> httpx.Response:
    return client.post(f"endpoints/{name}/run/", json=body)


def test_run_result_shape(local_client: httpx.Client, endpoint_factory):
    name = endpoint_factory("SELECT event, count() AS n FROM events GROUP BY event ORDER BY event")
    r = run(local_client, name)
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= RUN_RESULT_KEYS
    assert body["columns"] == ["event", "n"] and body["types"] == [["event", "String"], ["n", "UInt64"]]
    assert sum(row[1] for row in body["results"]) == EVENTS
    assert (body["name"], body["_version"], body["timezone"], body["query_status"]) == (name, 1, "UTC", None)
    assert body["is_cached"] is False and body["cache_key"].startswith("cache_") and body["hasMore"] is False
    last = datetime.fromisoformat(body["last_refresh"].replace("Z", "+00:00"))
    assert abs(last - datetime.now(timezone.utc)) < timedelta(minutes=5)
    assert datetime.fromisoformat(body["next_allowed_client_refresh"].replace("Z", "+00:00")) > last
    assert datetime.fromisoformat(body["_version_created_at"]).tzinfo is not None
    assert local_client.get(f"endpoints/{name}/run/").json()["results"] == body["results"]


def test_variable_precedence_over_http(local_client: httpx.Client, endpoint_factory):
    name = endpoint_factory(
        "SELECT {variables.a} AS a, {variables.b} AS b, {variables.c} AS c",
        variables={"a": "saved-a", "b": "saved-b", "c": "saved-c"},
    )
    assert run(local_client, name).json()["results"] == [["saved-a", "saved-b", "saved-c"]]
    body = {
        "variables_values": {"a": "values-a"},
        "variables_override": {
            "var-a": {"variableId": "var-a", "code_name": "a", "value": "override-a"},
            "var-b": {"variableId": "var-b", "code_name": "b", "value": "override-b"},
        },
    }
    assert run(local_client, name, **body).json()["results"] == [["values-a", "override-b", "saved-c"]]


def test_typed_variables_and_the_injection_string(local_client: httpx.Client, endpoint_factory):
    name = endpoint_factory(
        "SELECT count() AS n, {variables.ev} AS ev FROM events WHERE event = {variables.ev}",
        variables={"ev": "signup"},
    )
    assert run(local_client, name).json()["results"][0][0] > 0
    r = run(local_client, name, variables_values={"ev": INJECTION})
    assert r.status_code == 200 and r.json()["results"] == [[0, INJECTION]]
    count = endpoint_factory("SELECT count() AS n FROM events")
    assert run(local_client, count, refresh="force_blocking").json()["results"] == [[EVENTS]]
    number = endpoint_factory("SELECT {variables.k} * 2 AS twice", variables={"k": 21})
    assert run(local_client, number).json()["results"] == [[42]]


def test_unknown_variable_and_query_override_are_400(local_client: httpx.Client, endpoint_factory):
    name = endpoint_factory("SELECT {variables.a} AS a", variables={"a": 1})
    r = run(local_client, name, variables_values={"nope": 1, "a": 2})
    assert r.status_code == 400 and r.json()["attr"] == "variables_values" and "nope" in r.json()["detail"]
    r = run(local_client, name, variables_override={"not-an-id": {"value": 3}})
    assert r.status_code == 400 and "not-an-id" in r.json()["detail"]
    r = run(local_client, name, query_override={"kind": "HogQLQuery", "query": "SELECT 2"})
    assert r.status_code == 400 and r.json()["detail"] == "Query override is not supported for HogQL queries"


def test_version_errors_exactly_as_the_contract(local_client: httpx.Client, endpoint_factory):
    name = endpoint_factory("SELECT 1 AS v")
    local_client.patch(f"endpoints/{name}/", json={"query": {"kind": "HogQLQuery", "query": "SELECT 2 AS v"}})
    assert run(local_client, name).json()["results"] == [[2]]
    assert run(local_client, name, version=1).json()["results"] == [[1]]
    old = local_client.get(f"endpoints/{name}/run/", params={"version": 1}).json()
    assert old["results"] == [[1]] and old["_version"] == 1
    r = run(local_client, name, version=7)
    assert r.status_code == 404 and r.json() == {
        "error": f"Version 7 not found for endpoint '{name}'",
        "current_version": 2,
    }
    r = local_client.get(f"endpoints/{name}/run/", params={"version": "abc"})
    assert r.status_code == 400 and r.json() == {"error": "Invalid version parameter: abc"}


def test_default_limit_paging_and_offset_rule(local_client: httpx.Client, endpoint_factory):
    name = endpoint_factory("SELECT uuid FROM events ORDER BY timestamp, uuid")
    first = run(local_client, name).json()
    assert len(first["results"]) == 100 and first["hasMore"] is True and first["limit"] == 100
    page1 = run(local_client, name, limit=700).json()
    page2 = run(local_client, name, limit=700, offset=700).json()
    assert page1["results"][:100] == first["results"]
    assert len(page2["results"]) == 700 and page2["offset"] == 700 and page2["hasMore"] is True
    assert not {r[0] for r in page1["results"]} & {r[0] for r in page2["results"]}
    last = run(local_client, name, limit=700, offset=EVENTS - 10).json()
    assert len(last["results"]) == 10 and last["hasMore"] is False
    everything = run(local_client, name, limit=60_000).json()
    assert len(everything["results"]) == EVENTS and everything["limit"] == 50_000
    r = run(local_client, name, offset=10)
    assert r.status_code == 400 and r.json()["attr"] == "offset"


def test_query_error_carries_the_engine_message(local_client: httpx.Client, endpoint_factory):
    name = endpoint_factory("SELECT no_such_column FROM events")
    r = run(local_client, name)
    assert (
        r.status_code == 400
        and r.json()["type"] == "validation_error"
        and "no_such_column" in r.json()["detail"]
    )


def test_filters_override(local_client: httpx.Client, endpoint_factory):
    name = endpoint_factory("SELECT count() AS n FROM events WHERE {filters}")
    assert run(local_client, name).json()["results"] == [[EVENTS]]
    chrome = run(
        local_client,
        name,
        filters_override={"properties": [{"key": "$browser", "value": "Chrome", "operator": "exact"}]},
    )
    recent = run(local_client, name, filters_override={"date_from": "-7d"})
    assert 0 < chrome.json()["results"][0][0] < EVENTS, chrome.text
    assert 0 < recent.json()["results"][0][0] < EVENTS, recent.text
    assert chrome.json()["cache_key"] != recent.json()["cache_key"]


# -- refresh modes and the cache ---------------------------------------------------------------
def test_blocking_caches_and_force_blocking_recomputes(local_client, endpoint_factory, server_control):
    name = endpoint_factory("SELECT count() AS n FROM events")
    first = run(local_client, name).json()
    second = run(local_client, name).json()
    assert (first["is_cached"], second["is_cached"]) == (False, True)
    assert second["cache_key"] == first["cache_key"] and second["last_refresh"] == first["last_refresh"]
    forced = run(local_client, name, refresh="force_blocking").json()
    assert forced["is_cached"] is False and forced["last_refresh"] > first["last_refresh"]
    assert [e["status"] for e in server_control.executions(endpoint=name)] == ["completed", "completed"]


def test_cache_key_depends_on_inputs(local_client, endpoint_factory):
    name = endpoint_factory("SELECT {variables.a} AS a FROM events LIMIT 3", variables={"a": 1})
    keys = {
        run(local_client, name, **body).json()["cache_key"]
        for body in ({}, {"variables_values": {"a": 2}}, {"limit": 2}, {"limit": 2, "offset": 1})
    }
    assert len(keys) == 4
    assert (
        run(local_client, name, variables_values={"a": 1}).json()["is_cached"] is True
    )  # same as the saved value


def test_fresh_means_younger_than_cache_age(local_client, endpoint_factory, server_control):
    name = endpoint_factory("SELECT count() AS n FROM events", cache_age_seconds=300)
    run(local_client, name)
    server_control.set_knobs(clock_offset_seconds=250)
    assert run(local_client, name).json()["is_cached"] is True
    server_control.set_knobs(clock_offset_seconds=350)
    assert run(local_client, name).json()["is_cached"] is False


def test_default_cache_age_is_six_hours(local_client, endpoint_factory, server_control):
    name = endpoint_factory("SELECT count() AS n FROM events")
    run(local_client, name)
    server_control.set_knobs(clock_offset_seconds=5 * 3600)
    assert run(local_client, name).json()["is_cached"] is True
    server_control.set_knobs(clock_offset_seconds=7 * 3600)
    assert run(local_client, name).json()["is_cached"] is False


def poll_status(client: httpx.Client, query_id: str, wait_until) -> httpx.Response:
    return wait_until(lambda: (r := client.get(f"query/{query_id}/")).status_code != 202 and r)


def test_async_and_lazy_async_cache_windows(local_client, endpoint_factory, server_control, wait_until):
    name = endpoint_factory("SELECT count() AS n FROM events", cache_age_seconds=300)
    miss = run(local_client, name, refresh="async", client_query_id=f"{name}-1")
    assert miss.status_code == 202 and miss.json()["query_status"]["complete"] is False
    done = poll_status(local_client, f"{name}-1", wait_until)
    assert done.status_code == 200 and done.json()["query_status"]["results"]["results"] == [[EVENTS]]
    hit = run(local_client, name, refresh="async")
    assert hit.status_code == 200 and hit.json()["is_cached"] is True, "the async run filled the cache"

    server_control.set_knobs(clock_offset_seconds=400)  # older than 1x, younger than 2x
    lazy = run(local_client, name, refresh="lazy_async")
    assert lazy.status_code == 200 and lazy.json()["is_cached"] is True
    stale = run(local_client, name, refresh="async", client_query_id=f"{name}-2")
    assert stale.status_code == 202
    poll_status(local_client, f"{name}-2", wait_until)

    server_control.set_knobs(clock_offset_seconds=700)  # older than 2x
    lazy_stale = run(local_client, name, refresh="lazy_async", client_query_id=f"{name}-3")
    assert lazy_stale.status_code == 202
    poll_status(local_client, f"{name}-3", wait_until)


def test_force_async_always_computes(local_client, endpoint_factory, wait_until, server_control):
    name = endpoint_factory("SELECT count() AS n FROM events")
    run(local_client, name)
    r = run(local_client, name, refresh="force_async", client_query_id=f"{name}-fa")
    assert r.status_code == 202 and r.json()["query_status"]["id"] == f"{name}-fa"
    status = poll_status(local_client, f"{name}-fa", wait_until).json()["query_status"]
    assert status["complete"] is True and status["results"]["is_cached"] is False
    assert len(server_control.executions(endpoint=name)) == 2


def test_force_cache_never_computes(local_client, endpoint_factory, server_control):
    name = endpoint_factory("SELECT count() AS n FROM events")
    miss = run(local_client, name, refresh="force_cache")
    assert miss.status_code == 200
    assert (miss.json()["results"], miss.json()["is_cached"]) == (None, False) and miss.json()["cache_key"]
    assert server_control.executions(endpoint=name) == []
    run(local_client, name)
    server_control.set_knobs(clock_offset_seconds=30 * 86400)  # any age
    hit = run(local_client, name, refresh="force_cache")
    assert hit.json()["is_cached"] is True and hit.json()["results"] == [[EVENTS]]
    assert len(server_control.executions(endpoint=name)) == 1


def test_retried_client_query_id_does_not_execute_again(local_client, endpoint_factory, server_control):
    name = endpoint_factory("SELECT count() AS n FROM events")
    first = run(local_client, name, refresh="force_blocking", client_query_id=f"{name}-retry")
    again = run(local_client, name, refresh="force_blocking", client_query_id=f"{name}-retry")
    assert first.status_code == again.status_code == 200
    assert (
        again.json()["results"] == first.json()["results"]
        and again.json()["last_refresh"] == first.json()["last_refresh"]
    )
    assert len(server_control.executions(client_query_id=f"{name}-retry")) == 1
    other = endpoint_factory("SELECT 1 AS one")
    clash = run(local_client, other, client_query_id=f"{name}-retry")
    assert clash.status_code == 400 and clash.json()["attr"] == "client_query_id"


# -- last_execution_times ----------------------------------------------------------------------
def test_last_execution_times(local_client, endpoint_factory, server_control):
    ran, never = endpoint_factory("SELECT 1 AS one"), endpoint_factory("SELECT 2 AS two")
    empty = local_client.post("endpoints/last_execution_times/", json={"names": []}).json()
    assert empty["query_status"]["results"] is None and empty["query_status"]["complete"] is True
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    run(local_client, ran)
    body = local_client.post(
        "endpoints/last_execution_times/", json={"names": [ran, never, "does_not_exist"]}
    ).json()
    status = body["query_status"]
    assert (status["id"], status["team_id"], status["complete"], status["error"]) == ("", 1, True, False)
    assert [row[0] for row in status["results"]] == [ran]
    when = status["results"][0][1]
    assert when.endswith("+00:00") and datetime.fromisoformat(when) >= before
    assert local_client.get(f"endpoints/{ran}/").json()["last_executed_at"] is not None
    nothing = local_client.post("endpoints/last_execution_times/", json={"names": [never]}).json()
    assert nothing["query_status"]["results"] == []
    bad = local_client.post("endpoints/last_execution_times/", json={"names": ["no spaces"]})
    assert bad.status_code == 400


def test_cache_hits_are_not_executions_and_granularity_knob(local_client, endpoint_factory, server_control):
    name = endpoint_factory("SELECT 1 AS one")

    def last() -> str:
        return local_client.post("endpoints/last_execution_times/", json={"names": [name]}).json()[
            "query_status"
        ]["results"][0][1]

    run(local_client, name)
    first = last()
    run(local_client, name)  # a cache hit never reaches the engine (PostHog's query_log)
    assert last() == first
    run(local_client, name, refresh="force_blocking")
    second = last()
    assert second > first
    server_control.set_knobs(last_execution_granularity_seconds=3600)
    run(local_client, name, refresh="force_blocking")
    assert last() == second


@pytest.mark.parametrize(
    "demo", ["daily_signups", "top_events", "revenue_by_country", "signup_to_purchase_funnel"]
)
def test_demo_endpoints_run(local_client: httpx.Client, demo: str):
    r = run(local_client, demo, refresh="force_blocking")
    assert r.status_code == 200, r.text
    assert r.json()["results"], f"{demo} returned no rows over the demo data"
