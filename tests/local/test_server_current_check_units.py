"""Units of the current dialect's issue-15 rules and their storage, without a server.

The HTTP behaviour, with the PostHog tests it follows, is in ``test_server_current_saved_queries.py``,
``test_server_current_version_updates.py``, ``test_server_current_fields.py`` and
``test_server_current_run_checks.py``.
"""

from __future__ import annotations

import sqlite3

import pytest

from endpoints_dagster.local import api_errors
from endpoints_dagster.local.dialects import current_checks as checks
from endpoints_dagster.local.dialects.documented import QueryFacts
from endpoints_dagster.local.storage.schema import SCHEMA
from endpoints_dagster.local.storage.store import MaterializationRow, Store

UUID = "6f1c3a52-7d4e-4b8a-9c1e-2a5b7d9e0f13"


def query(text: str, **variables: str) -> dict:
    return {
        "query": text,
        "variables": {vid: {"variableId": vid, "code_name": code} for code, vid in variables.items()} or None,
    }


def refused(fn, *args) -> api_errors.APIError:
    with pytest.raises(api_errors.APIError) as info:
        fn(*args)
    return info.value


def test_saved_query_checks_run_in_posthogs_order():
    """logic/validation.py::validate_hogql_query: connection, parse, undefined names, then ids."""
    broken = QueryFacts(syntax_error="Syntax error", variables=frozenset({"a"}))
    with_connection = {**query("x"), "connectionId": UUID}
    assert (
        refused(checks.check_saved_query, with_connection, broken).detail
        == checks.DIRECT_CONNECTION_UNSUPPORTED
    )
    assert refused(checks.check_saved_query, query("x"), broken).detail == "Invalid HogQL query: Syntax error"
    facts = QueryFacts(None, frozenset({"a", "b"}))
    assert "undefined variable(s): a. " in refused(checks.check_saved_query, query("q", b="x"), facts).detail
    assert refused(checks.check_saved_query, query("q", a="x", b=UUID), facts).detail == (
        "Variable ID(s) not valid UUIDs: x. "
    )
    checks.check_saved_query(query("q", a=UUID, b=UUID.upper(), c="unused"), facts)  # passes


def test_tags_are_tagified_and_the_version_parsed():
    assert checks.parse_tags([" A ", "a", "b", "  "]) == ("a", "b")
    assert checks.parse_tags(None) is None
    assert refused(checks.parse_tags, ["a", 1]).attr == "tags"
    assert checks.parse_target_version("3") == 3 and checks.parse_target_version(None) is None
    for bad in ("x", True, 1.5):
        assert refused(checks.parse_target_version, bad).detail == f"Must be an integer, got: {bad}"


def test_the_materialization_block_hides_a_stale_error_and_names_a_stable_saved_query():
    done = MaterializationRow("e", 1, "mat_p1_x_v1", "Completed", 1.0, "old failure", "24hour")
    failed = MaterializationRow("e", 1, "mat_p1_x_v1", "Failed", None, "boom", "24hour")
    assert checks.materialization_json(done)["error"] == ""
    assert checks.materialization_json(failed)["error"] == "boom"
    assert (
        checks.saved_query_id(done)
        == checks.saved_query_id(failed)
        != checks.saved_query_id(MaterializationRow("e", 2, "mat_p1_x_v2", "Completed", 1.0, None, "24hour"))
    )


def test_required_variables_count_only_values_given():
    checks.check_required_variables({"a"}, {"a": 0})
    error = refused(checks.check_required_variables, {"b", "a"}, {"a": None})
    assert (error.detail, error.attr) == ("Required variable(s) 'a', 'b' not provided", "variables")


def test_an_older_state_file_gains_tags_insight_and_version_descriptions(tmp_path):
    path = tmp_path / "state.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)  # the columns added since are not in it
        assert "tags" not in {r[1] for r in db.execute("PRAGMA table_info(endpoints)")}
        db.execute(
            "INSERT INTO endpoints (id, project_id, name, created_at, updated_at) "
            "VALUES ('e', 1, 'old', 0, 0)"
        )
        db.execute(
            "INSERT INTO versions (id, endpoint_id, version, query, created_at) VALUES ('v', 'e', 1, '{}', 0)"
        )
    store = Store(path)
    try:
        row, version = store.get_endpoint(1, "old"), store.get_version("e", 1)
        assert row is not None and row.tags == () and row.derived_from_insight is None
        assert version is not None and version.description is None  # the endpoint's, as before
        store.set_endpoint_labels("e", tags=("x",), derived_from_insight="abc")
        store.set_version_description("e", 1, "mine")
        assert store.get_endpoint(1, "old").tags == ("x",) and store.get_version("e", 1).description == "mine"
    finally:
        store.close()
