"""Engine catalogue: ``system.*``, ``INFORMATION_SCHEMA``, other databases and introspection
functions are out of reach, however the name is written.

The attack found: ``FROM `system`.tables`` listed every project's materialized tables.
"""

from __future__ import annotations

import pytest
from attack_helpers import assert_refused, endpoint_body, spellings, table_spellings

pytestmark = pytest.mark.integration

TABLES = {
    f"{db}.{table} {how}": sql
    for db, table in [
        ("system", "tables"),
        ("system", "processes"),
        ("system", "query_log"),
        ("system", "settings"),
        ("INFORMATION_SCHEMA", "TABLES"),
        ("information_schema", "columns"),
        ("default", "events"),
        ("p1", "events"),
        ("materialized", "anything"),
    ]
    for how, sql in table_spellings(db, table).items()
}


@pytest.mark.parametrize("case", sorted(TABLES))
def test_qualified_tables_are_refused(case, attacker):
    assert_refused(attacker.post("endpoints/", json=endpoint_body(TABLES[case])), "not available")


@pytest.mark.parametrize("name", ["tables", "processes", "numbers_mt", "one", "databases"])
def test_unqualified_unknown_tables_are_refused(name, attacker):
    assert_refused(attacker.post("endpoints/", json=endpoint_body(f"SELECT * FROM {name}")), "Unknown table")


INTROSPECTION = [
    "getSetting",
    "currentDatabase",
    "currentUser",
    "hostName",
    "version",
    "uptime",
    "hasColumnInTable",
    "getMacro",
    "serverUUID",
    "getServerPort",
    "filesystemAvailable",
]


@pytest.mark.parametrize("name", INTROSPECTION)
def test_introspection_functions_are_refused(name, attacker):
    for how, sql in spellings(name, "'readonly'").items():
        assert_refused(attacker.post("endpoints/", json=endpoint_body(sql)), name), how


@pytest.mark.parametrize(
    "sql, needle",
    [
        ("SELECT 1 AS x SETTINGS readonly = 0", "SETTINGS"),
        ("SELECT 1 AS x UNION ALL SELECT 2 SETTINGS max_execution_time = 0", "SETTINGS"),
        ("SELECT 1 AS x FORMAT JSON", "FORMAT"),
        ("SELECT 1 AS x INTO OUTFILE '/tmp/x'", "OUTFILE"),
        ("SELECT {x:String} AS x", "Placeholders"),
        ("SELECT 1; SELECT 2", "single statement"),
        ("INSERT INTO events SELECT * FROM events", "Only SELECT"),
        ("SELECT * FROM view(SELECT * FROM system.tables)", "view"),
        ("SELECT * FROM merge('system', '.*')", "merge"),
        ("SELECT * FROM numbers((SELECT count() FROM system.tables))", "numbers|System tables"),
        ("SELECT count() FROM events WHERE event IN system.one", "IN takes"),
        ("SELECT count() FROM events WHERE event GLOBAL NOT IN `system`.`one`", "IN takes"),
        ("SELECT count() FROM events WHERE event IN p1.mat_p1_x_v1", "IN takes"),
        ("SELECT in(event, system.one) AS x FROM events", "'in'|cannot be parsed"),
        ("SELECT `globalIn`(event, `system`.`one`) AS x FROM events", "globalIn"),
    ],
)
def test_clauses_outside_hogql_are_refused(sql, needle, attacker):
    assert_refused(attacker.post("endpoints/", json=endpoint_body(sql)), *needle.split("|"))
