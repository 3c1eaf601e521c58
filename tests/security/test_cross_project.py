"""Cross-project: a project reads only its own events and its own materialized tables.

The attack found: all projects shared one engine database, so project 2 read project 1's
materialized rows by table name. Now each project has its own database; a query may name only
unqualified tables (its project's ``events`` and its own CTEs); materialized tables are not
addressable by name at all, only through their endpoint.
"""

from __future__ import annotations

import time

import httpx
import pytest
from attack_helpers import assert_refused, endpoint_body, table_spellings, unique

pytestmark = pytest.mark.integration

MARKER = "project-one-confidential"


def wait_completed(client: httpx.Client, name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        mat = client.get(f"endpoints/{name}/").json()["materialization"]
        if mat.get("status") in ("Completed", "Failed") or time.monotonic() > deadline:
            return mat
        time.sleep(0.05)


@pytest.fixture(scope="module")
def secret_table(attack_server):
    """Project 1 materializes an endpoint whose rows carry MARKER; yields its table name."""
    from attack_helpers import OWNER_ONE, api

    name = unique("secret")
    with api(attack_server, OWNER_ONE, 1) as owner:
        body = endpoint_body(
            f"SELECT '{MARKER}' AS label, count() AS n FROM events", name=name, is_materialized=True
        )
        assert owner.post("endpoints/", json=body).status_code == 201
        assert wait_completed(owner, name)["status"] == "Completed"
        run = owner.post(f"endpoints/{name}/run/", json={"refresh": "force_blocking"}).json()
        assert run["results"][0][0] == MARKER
        yield f"mat_p1_{name}_v1"
        owner.delete(f"endpoints/{name}/")


def test_the_secret_table_exists(attack_server, secret_table):
    assert secret_table in attack_server.control.materialized_tables()


@pytest.mark.parametrize("db", ["p1", "materialized", "default"])
def test_another_projects_table_is_refused_in_every_spelling(db, secret_table, attacker):
    for how, sql in table_spellings(db, secret_table).items():
        r = attacker.post("endpoints/", json=endpoint_body(sql))
        assert_refused(r, "not available")
        assert MARKER not in r.text, how


def test_the_table_by_its_bare_name_is_unknown(secret_table, attacker, owner):
    for client in (attacker, owner):  # not even its own project addresses it by name
        for sql in (f"SELECT * FROM {secret_table}", f"SELECT * FROM `{secret_table}`"):
            r = client.post("endpoints/", json=endpoint_body(sql))
            assert_refused(r, "Unknown table")
            assert MARKER not in r.text


def test_each_project_materializes_into_its_own_space(attacker, secret_table):
    name = unique("mine")
    body = endpoint_body(
        "SELECT 'project-two' AS label, count() AS n FROM events", name=name, is_materialized=True
    )
    assert attacker.post("endpoints/", json=body).status_code == 201
    try:
        assert wait_completed(attacker, name)["status"] == "Completed"
        rows = attacker.post(f"endpoints/{name}/run/", json={}).json()["results"]
        assert rows[0][0] == "project-two" and MARKER not in str(rows)
    finally:
        attacker.delete(f"endpoints/{name}/")


def test_demo_data_is_the_same_per_project(attacker, owner):
    counts = []
    for client in (owner, attacker):
        body = endpoint_body("SELECT count() AS n, max(timestamp) AS last FROM events")
        assert client.post("endpoints/", json=body).status_code == 201
        counts.append(client.post(f"endpoints/{body['name']}/run/", json={}).json()["results"])
        client.delete(f"endpoints/{body['name']}/")
    assert counts[0] == counts[1] and counts[0][0][0] == 2_000


def test_the_control_list_of_tables_is_not_reachable_with_a_key(attack_server, secret_table):
    from attack_helpers import ATTACKER, READER

    for key in (ATTACKER, READER):
        r = httpx.get(
            f"{attack_server.url}/_local/materialized_tables", headers={"Authorization": f"Bearer {key}"}
        )
        assert r.status_code == 403 and secret_table not in r.text
