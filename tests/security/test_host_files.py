"""Host files: ``file()`` in every spelling, as a function and as a table, is refused everywhere.

The attack found: ``SELECT `file`('/proc/self/cmdline')`` returned the server's command line with
every key (a backquoted name was not on the word list, and ClickHouse's ``readonly`` does not
cover scalar ``file()``). Each spelling is sent where a query enters the server: creating an
endpoint, updating one, creating it materialized, and a query stored by an older build (written
straight into the state file) that is then run. Every answer is a 400 naming ``file``, and no
answer carries anything of the host.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid

import pytest
from attack_helpers import (
    assert_refused,
    endpoint_body,
    spellings,
    table_function_spellings,
)

pytestmark = pytest.mark.integration

TARGETS = ["/proc/self/cmdline", "/etc/passwd", "state.sqlite3", "../../../../etc/passwd"]
SCALAR = spellings("file", "'/proc/self/cmdline'")
TABLE = table_function_spellings("file", "'/etc/passwd', 'LineAsString'")


@pytest.mark.parametrize("sql", SCALAR.values(), ids=SCALAR.keys())
def test_scalar_file_is_refused_at_create(sql, attacker):
    assert_refused(attacker.post("endpoints/", json=endpoint_body(sql)), "file")


@pytest.mark.parametrize("sql", TABLE.values(), ids=TABLE.keys())
def test_file_as_a_table_is_refused_at_create(sql, attacker):
    assert_refused(attacker.post("endpoints/", json=endpoint_body(sql)), "file")


@pytest.mark.parametrize("target", TARGETS)
def test_every_target_path_is_refused_materialized_too(target, attacker):
    sql = f"SELECT file('{target}') AS x"
    assert_refused(attacker.post("endpoints/", json=endpoint_body(sql, is_materialized=True)), "file")


@pytest.mark.parametrize("sql", list(SCALAR.values())[:6], ids=list(SCALAR)[:6])
def test_an_update_to_file_is_refused_and_changes_nothing(sql, attacker):
    body = endpoint_body("SELECT 1 AS one")
    assert attacker.post("endpoints/", json=body).status_code == 201
    try:
        assert_refused(
            attacker.patch(
                f"endpoints/{body['name']}/", json={"query": {"kind": "HogQLQuery", "query": sql}}
            ),
            "file",
        )
        assert attacker.get(f"endpoints/{body['name']}/").json()["current_version"] == 1
    finally:
        attacker.delete(f"endpoints/{body['name']}/")


def test_a_file_path_in_a_variable_is_only_a_string(attacker):
    """A variable is a bound value: ``file(...)`` as its text is never called."""
    body = endpoint_body("SELECT {variables.path} AS x", variables={"path": "x"})
    assert attacker.post("endpoints/", json=body).status_code == 201
    try:
        r = attacker.post(
            f"endpoints/{body['name']}/run/", json={"variables_values": {"path": "file('/etc/passwd')"}}
        )
        assert r.status_code == 200 and r.json()["results"] == [["file('/etc/passwd')"]]
    finally:
        attacker.delete(f"endpoints/{body['name']}/")


def test_query_override_cannot_carry_file(attacker):
    body = endpoint_body("SELECT 1 AS one")
    assert attacker.post("endpoints/", json=body).status_code == 201
    try:
        r = attacker.post(
            f"endpoints/{body['name']}/run/",
            json={"query_override": {"kind": "HogQLQuery", "query": "SELECT file('/etc/passwd')"}},
        )
        assert r.status_code == 400 and "root:" not in r.text
    finally:
        attacker.delete(f"endpoints/{body['name']}/")


@pytest.mark.parametrize(
    "sql", [SCALAR["backquoted"], TABLE["CTE"], SCALAR["UNION"]], ids=["scalar", "table", "union"]
)
def test_a_stored_query_from_before_the_allowlist_is_refused_when_run(sql, attack_server, attacker):
    """A query an older build accepted (planted in the state file) is judged again at run time."""
    body = endpoint_body("SELECT 1 AS one")
    assert attacker.post("endpoints/", json=body).status_code == 201
    try:
        db = sqlite3.connect(attack_server.data_dir / "state.sqlite3", timeout=10)
        with db:
            (endpoint_id,) = db.execute(
                "SELECT id FROM endpoints WHERE project_id = 2 AND name = ?", (body["name"],)
            ).fetchone()
            query = {"kind": "HogQLQuery", "query": sql, "variables": None}
            db.execute(
                "UPDATE versions SET query = ? WHERE endpoint_id = ?", (json.dumps(query), endpoint_id)
            )
        db.close()
        for refresh in ("force_blocking", "force_async"):
            qid = uuid.uuid4().hex
            r = attacker.post(
                f"endpoints/{body['name']}/run/", json={"refresh": refresh, "client_query_id": qid}
            )
            if refresh == "force_async":
                deadline = time.monotonic() + 30
                while r.status_code == 202 and time.monotonic() < deadline:
                    time.sleep(0.05)
                    r = attacker.get(f"query/{qid}/")
                assert r.status_code == 400 and "file" in r.json()["query_status"]["error_message"]
                assert "root:" not in r.text
            else:
                assert_refused(r, "file")
    finally:
        attacker.delete(f"endpoints/{body['name']}/")
