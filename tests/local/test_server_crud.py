"""Endpoint CRUD, versions, name rules and path aliases, over HTTP against the subprocess server."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest


def hogql(query: str, variables: dict | None = None) -> dict:
    body: dict = {"kind": "HogQLQuery", "query": query}
    if variables:
        body["variables"] = {
            f"var-{k}": {"variableId": f"var-{k}", "code_name": k, "value": v} for k, v in variables.items()
        }
    return body


COUNT_QUERY = "SELECT count() AS n FROM events"
NULL_KEYS = ("explain", "filters", "modifiers", "name", "response", "tags", "values", "variables", "version")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_demo_endpoints_are_listed(local_client: httpx.Client):
    r = local_client.get("endpoints/")
    assert r.status_code == 200
    names = {e["name"] for e in r.json()["results"]}
    assert {"daily_signups", "top_events", "revenue_by_country", "signup_to_purchase_funnel"} <= names


def test_create_answers_the_full_endpoint_shape(local_server, local_client: httpx.Client, endpoint_factory):
    name = endpoint_factory(COUNT_QUERY, description="all events", cache_age_seconds=600)
    ep = local_client.get(f"endpoints/{name}/").json()
    assert ep["name"] == name and ep["description"] == "all events" and ep["cache_age_seconds"] == 600
    assert ep["query"]["kind"] == "HogQLQuery" and ep["query"]["query"] == COUNT_QUERY
    assert all(k in ep["query"] and ep["query"][k] is None for k in NULL_KEYS)
    assert ep["is_active"] is True and ep["is_materialized"] is False
    assert ep["materialization"] == {"can_materialize": True, "reason": None}
    assert (ep["current_version"], ep["versions_count"]) == (1, 1)
    assert ep["endpoint_path"] == f"/api/projects/1/endpoints/{name}/run"
    assert ep["url"] == f"{local_server.url}/api/projects/1/endpoints/{name}/run"
    assert ep["ui_url"] == f"{local_server.url}/project/1/endpoints/{name}"
    assert ep["created_by"]["id"] >= 1 and "@" in ep["created_by"]["email"]
    assert ep["last_executed_at"] is None
    assert parse_time(ep["created_at"]) <= parse_time(ep["updated_at"])


@pytest.mark.parametrize("bad", ["1abc", "a b", "a" * 129, "", "naïve", "semi;colon"])
def test_bad_names_are_400(local_client: httpx.Client, bad: str):
    r = local_client.post("endpoints/", json={"name": bad, "query": hogql(COUNT_QUERY)})
    assert r.status_code == 400 and r.json()["type"] == "validation_error" and r.json()["attr"] == "name"


def test_name_rule_edges_and_uniqueness(local_client: httpx.Client, endpoint_factory):
    longest = "L" + "x" * 127
    assert endpoint_factory(COUNT_QUERY, name=longest) == longest
    hyphen = endpoint_factory(COUNT_QUERY, name=f"with-hyphen_{longest[:20]}")
    dup = local_client.post("endpoints/", json={"name": hyphen, "query": hogql("SELECT 1")})
    assert dup.status_code == 400 and dup.json()["attr"] == "name" and hyphen in dup.json()["detail"]
    missing_name = local_client.post("endpoints/", json={"query": hogql(COUNT_QUERY)})
    assert missing_name.status_code == 400 and missing_name.json()["attr"] == "name"
    missing_query = local_client.post("endpoints/", json={"name": "no_query_here"})
    assert missing_query.status_code == 400 and missing_query.json()["attr"] == "query"


@pytest.mark.parametrize(
    "age,ok", [(299, False), (300, True), (86400, True), (86401, False), (None, True), ("600", False)]
)
def test_cache_age_bounds(local_client: httpx.Client, endpoint_factory, age, ok: bool):
    name = endpoint_factory(COUNT_QUERY)
    r = local_client.patch(f"endpoints/{name}/", json={"cache_age_seconds": age})
    if ok:
        assert r.status_code == 200 and r.json()["cache_age_seconds"] == age
    else:
        assert r.status_code == 400 and r.json()["attr"] == "cache_age_seconds"
    if age in (299, 86401):
        assert r.json()["detail"] == "Cache age must be between 300 and 86400 seconds."


def test_versions_only_for_a_changed_query(local_client: httpx.Client, endpoint_factory):
    query = "SELECT event, count() AS n FROM events WHERE event = {variables.ev} GROUP BY event"
    name = endpoint_factory(query, variables={"ev": "signup"})
    same_short = {
        "kind": "HogQLQuery",
        "query": "SELECT event,  count() AS n\nFROM events WHERE event = {variables.ev} GROUP BY event",
        "variables": hogql(query, {"ev": "signup"})["variables"],
    }
    r = local_client.patch(f"endpoints/{name}/", json={"query": same_short})
    assert r.status_code == 200 and r.json()["current_version"] == 1 and r.json()["versions_count"] == 1
    r = local_client.put(f"endpoints/{name}/", json={"description": "PUT is partial"})
    assert (
        r.status_code == 200
        and r.json()["description"] == "PUT is partial"
        and r.json()["current_version"] == 1
    )
    r = local_client.patch(f"endpoints/{name}/", json={"query": hogql(query, {"ev": "purchase"})})
    assert r.json()["current_version"] == 2, "a changed variable default is a changed query"
    r = local_client.patch(
        f"endpoints/{name}/", json={"query": hogql(query + " ORDER BY n", {"ev": "purchase"})}
    )
    assert (r.json()["current_version"], r.json()["versions_count"]) == (3, 3)

    versions = local_client.get(f"endpoints/{name}/versions/").json()
    assert isinstance(versions, list) and [v["version"] for v in versions] == [3, 2, 1]
    assert versions[2]["query"]["variables"]["var-ev"]["value"] == "signup"
    assert set(versions[0]) >= {"id", "version", "query", "is_active", "created_at", "created_by"}
    one = local_client.get(f"endpoints/{name}/versions/1/")
    assert one.status_code == 200 and one.json() == versions[2]
    missing = local_client.get(f"endpoints/{name}/versions/9/")
    assert missing.status_code == 404 and missing.json() == {"error": "Version 9 not found"}


def test_inactive_endpoint_and_inactive_version(local_client: httpx.Client, endpoint_factory):
    name = endpoint_factory(COUNT_QUERY)
    local_client.patch(f"endpoints/{name}/", json={"query": hogql(COUNT_QUERY + " WHERE event = 'signup'")})
    r = local_client.patch(f"endpoints/{name}/", params={"version": 1}, json={"is_active": False})
    assert r.status_code == 200 and r.json()["version"] == 1 and r.json()["is_active"] is False
    r = local_client.post(f"endpoints/{name}/run/", json={"version": 1})
    assert r.status_code == 400 and "inactive" in r.json()["detail"]
    assert local_client.post(f"endpoints/{name}/run/", json={}).status_code == 200

    assert local_client.patch(f"endpoints/{name}/", json={"is_active": False}).json()["is_active"] is False
    assert local_client.get(f"endpoints/{name}/").status_code == 200
    for body in ({}, {"version": 2}, {"version": 1}):
        assert local_client.post(f"endpoints/{name}/run/", json=body).status_code == 404
    inactive = {
        e["name"] for e in local_client.get("endpoints/", params={"is_active": "false"}).json()["results"]
    }
    active = {
        e["name"] for e in local_client.get("endpoints/", params={"is_active": "true"}).json()["results"]
    }
    assert name in inactive and name not in active


def test_list_filter_created_by(local_client: httpx.Client, endpoint_factory):
    name = endpoint_factory(COUNT_QUERY)
    owner = local_client.get(f"endpoints/{name}/").json()["created_by"]["id"]
    mine = {e["name"] for e in local_client.get("endpoints/", params={"created_by": owner}).json()["results"]}
    others = local_client.get("endpoints/", params={"created_by": owner + 1000}).json()["results"]
    assert name in mine and others == []


def test_delete_is_hard(local_client: httpx.Client, endpoint_factory):
    name = endpoint_factory(COUNT_QUERY)
    local_client.patch(f"endpoints/{name}/", json={"query": hogql("SELECT 1 AS one")})
    r = local_client.delete(f"endpoints/{name}/")
    assert r.status_code == 204 and r.content == b""
    assert local_client.get(f"endpoints/{name}/").status_code == 404
    assert local_client.get(f"endpoints/{name}/versions/").status_code == 404
    assert local_client.delete(f"endpoints/{name}/").status_code == 404
    again = local_client.post("endpoints/", json={"name": name, "query": hogql(COUNT_QUERY)})
    assert (
        again.status_code == 201
        and again.json()["current_version"] == 1
        and again.json()["versions_count"] == 1
    )
    local_client.delete(f"endpoints/{name}/")


def test_environments_alias_and_paths_without_trailing_slash(local_server, endpoint_factory):
    name = endpoint_factory(COUNT_QUERY)
    for prefix in ("api/projects/1", "api/environments/1"):
        with httpx.Client(
            base_url=f"{local_server.url}/{prefix}/", headers=local_server.headers, timeout=60
        ) as c:
            assert name in {e["name"] for e in c.get("endpoints").json()["results"]}
            assert c.get(f"endpoints/{name}").json()["name"] == name
            assert c.get(f"endpoints/{name}/versions").json()[0]["version"] == 1
            assert c.get(f"endpoints/{name}/versions/1").json()["version"] == 1
            assert c.get(f"endpoints/{name}/run").json()["results"] == [[20_000]]
            assert c.post(f"endpoints/{name}/run", json={}).json()["columns"] == ["n"]
            r = c.post("endpoints/last_execution_times", json={"names": [name]})
            assert r.status_code == 200 and r.json()["query_status"]["results"][0][0] == name
            assert c.patch(f"endpoints/{name}", json={"description": prefix}).json()["description"] == prefix


def test_unknown_route_and_method_are_json(local_server, local_client: httpx.Client):
    r = local_client.get("nothing/here/")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = local_client.post("endpoints/top_events/")
    assert r.status_code == 405 and r.json()["type"] == "invalid_request"
    assert local_client.get("endpoints/does_not_exist/").json() == {
        "type": "invalid_request",
        "code": "not_found",
        "detail": "Not found.",
        "attr": None,
    }
