"""Materialization over HTTP: background build, runs that read the table, turning it off, delete."""

from __future__ import annotations

import httpx

QUERY = "SELECT event, count() AS n FROM events WHERE event != {variables.skip} GROUP BY event ORDER BY event"


def settled(client: httpx.Client, name: str, wait_until) -> dict:
    return wait_until(
        lambda: (
            (ep := client.get(f"endpoints/{name}/").json())["materialization"].get("status")
            in ("Completed", "Failed")
            and ep
        )
    )


def test_materialized_runs_read_the_table(local_client, endpoint_factory, server_control, wait_until):
    plain = endpoint_factory(QUERY, variables={"skip": "signup"})
    name = endpoint_factory(QUERY, variables={"skip": "signup"}, is_materialized=True)
    created = local_client.get(f"endpoints/{name}/").json()
    assert created["is_materialized"] is True and created["materialization"]["status"] in (
        "Running",
        "Completed",
    )
    ep = settled(local_client, name, wait_until)
    mat = ep["materialization"]
    assert mat["status"] == "Completed" and mat["can_materialize"] is True and mat["error"] is None
    assert mat["last_materialized_at"] and mat["sync_frequency"] == "24hour"
    assert f"mat_p1_{name}_v1" in server_control.materialized_tables()

    run = local_client.post(f"endpoints/{name}/run/", json={}).json()
    inline = local_client.post(f"endpoints/{plain}/run/", json={}).json()
    assert run["endpoint_materialized"] is True and run["endpoint_materialized_at"]
    assert (
        run["results"] == inline["results"]
        and run["columns"] == inline["columns"]
        and run["types"] == inline["types"]
    )
    assert "endpoint_materialized" not in inline
    assert server_control.executions(endpoint=name)[0]["materialized"] is True

    other = local_client.post(
        f"endpoints/{name}/run/", json={"variables_values": {"skip": "purchase"}}
    ).json()
    assert "endpoint_materialized" not in other, "other variable values than the built ones run inline"
    assert other["results"] != run["results"]


def test_turn_off_change_query_and_delete_drop_tables(
    local_client, endpoint_factory, server_control, wait_until
):
    name = endpoint_factory(QUERY, variables={"skip": "signup"}, is_materialized=True)
    settled(local_client, name, wait_until)
    changed = local_client.patch(
        f"endpoints/{name}/",
        json={
            "query": {
                "kind": "HogQLQuery",
                "query": QUERY + " LIMIT 3",
                "variables": {"var-skip": {"variableId": "var-skip", "code_name": "skip", "value": "signup"}},
            }
        },
    )
    assert changed.json()["current_version"] == 2 and changed.json()["is_materialized"] is True
    ep = settled(local_client, name, wait_until)
    assert ep["materialization"]["status"] == "Completed"
    tables = server_control.materialized_tables()
    assert f"mat_p1_{name}_v2" in tables and f"mat_p1_{name}_v1" not in tables
    assert len(local_client.post(f"endpoints/{name}/run/", json={}).json()["results"]) == 3

    off = local_client.patch(f"endpoints/{name}/", json={"is_materialized": False}).json()
    assert off["is_materialized"] is False and off["materialization"] == {
        "can_materialize": True,
        "reason": None,
    }
    assert f"mat_p1_{name}_v2" not in server_control.materialized_tables()
    assert (
        "endpoint_materialized"
        not in local_client.post(f"endpoints/{name}/run/", json={"refresh": "force_blocking"}).json()
    )

    local_client.patch(f"endpoints/{name}/", json={"is_materialized": True})
    settled(local_client, name, wait_until)
    assert f"mat_p1_{name}_v2" in server_control.materialized_tables()
    assert local_client.delete(f"endpoints/{name}/").status_code == 204
    assert not [t for t in server_control.materialized_tables() if t.startswith(f"mat_p1_{name}_")]


def test_failed_build_reports_the_engine_error(local_client, endpoint_factory, wait_until):
    name = endpoint_factory("SELECT missing_column FROM events", is_materialized=True)
    ep = settled(local_client, name, wait_until)
    assert ep["materialization"]["status"] == "Failed" and "missing_column" in ep["materialization"]["error"]
    r = local_client.post(f"endpoints/{name}/run/", json={})
    assert r.status_code == 400 and "missing_column" in r.json()["detail"]


def test_materialization_rules(local_client, endpoint_factory):
    name = endpoint_factory("SELECT 1 AS one")
    r = local_client.patch(f"endpoints/{name}/", json={"is_active": False, "is_materialized": True})
    assert r.status_code == 400 and r.json()["attr"] == "is_materialized"
    r = local_client.post(
        "endpoints/",
        json={
            "name": f"{name}_x",
            "is_active": False,
            "is_materialized": True,
            "query": {"kind": "HogQLQuery", "query": "SELECT 1"},
        },
    )
    assert r.status_code == 400


def test_demo_materialized_endpoint(local_client, wait_until):
    ep = settled(local_client, "feature_usage_by_plan", wait_until)
    assert ep["materialization"]["status"] == "Completed"
    run = local_client.post("endpoints/feature_usage_by_plan/run/", json={}).json()
    assert run["endpoint_materialized"] is True and run["results"]


def test_cache_older_than_a_rebuild_is_not_served(local_client, endpoint_factory, wait_until):
    name = endpoint_factory("SELECT count() AS n FROM events", is_materialized=True)
    built = settled(local_client, name, wait_until)["materialization"]["last_materialized_at"]
    assert local_client.post(f"endpoints/{name}/run/", json={}).json()["is_cached"] is False
    assert local_client.post(f"endpoints/{name}/run/", json={}).json()["is_cached"] is True
    local_client.patch(f"endpoints/{name}/", json={"is_materialized": True})  # an explicit true rebuilds
    wait_until(
        lambda: (
            (m := local_client.get(f"endpoints/{name}/").json()["materialization"])["status"] == "Completed"
            and m["last_materialized_at"] != built
        )
    )
    after = local_client.post(f"endpoints/{name}/run/", json={}).json()
    assert after["is_cached"] is False and after["endpoint_materialized"] is True
    assert (
        local_client.post(f"endpoints/{name}/run/", json={"refresh": "force_cache"}).json()["is_cached"]
        is True
    )
