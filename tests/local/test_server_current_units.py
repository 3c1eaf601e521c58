"""Units of the current dialect: paging parameters, the CLI defaults it brings, and the state
file migration soft delete needs (no server process)."""

from __future__ import annotations

import sqlite3

import pytest

from endpoints_dagster.local import api_errors
from endpoints_dagster.local.cli import build_parser, knobs_from
from endpoints_dagster.local.dialects.documented import Dialect
from endpoints_dagster.local.dialects.registry import get_dialect
from endpoints_dagster.local.server.faults import Knobs, parse_knobs
from endpoints_dagster.local.storage.schema import SCHEMA
from endpoints_dagster.local.storage.store import Store


def test_page_parameters_fall_back_as_drf_does():
    current = get_dialect("current")
    page = lambda **q: current.page(list(q.items()), "http://h/api/projects/1/endpoints/", 7)
    assert (page().offset, page().limit) == (0, 7)
    assert (page(limit="3", offset="6").offset, page(limit="3", offset="6").limit) == (6, 3)
    for bad in ("0", "-2", "x", ""):
        assert page(limit=bad).limit == 7 and page(offset=bad).offset == 0
    assert page(limit="100000").limit == 1000
    assert Dialect().page([("limit", "1")], "http://h/", 7).limit is None  # documented: everything


def test_links_keep_other_parameters_and_drop_offset_on_the_first_page():
    current = get_dialect("current")
    page = current.page([("is_active", "true"), ("limit", "2"), ("offset", "2")], "http://h/e/", 100)
    body = current.list_json(["c", "d"], count=5, page=page)
    assert body == {
        "count": 5,
        "next": "http://h/e/?is_active=true&limit=2&offset=4",
        "previous": "http://h/e/?is_active=true&limit=2",
        "results": ["c", "d"],
    }
    last = current.list_json(
        [], count=5, page=current.page([("limit", "2"), ("offset", "4")], "http://h/e/", 100)
    )
    assert last["next"] is None and last["previous"] == "http://h/e/?limit=2&offset=2"


def test_cli_dialect_defaults_and_overrides():
    parse = lambda *a: knobs_from(build_parser().parse_args(["serve", *a]))
    assert parse().last_execution_granularity_seconds == 0 and parse().list_page_size == 100
    assert parse("--dialect", "current").last_execution_granularity_seconds == 1800
    assert (
        parse("--dialect", "current", "--last-execution-granularity", "0").last_execution_granularity_seconds
        == 0
    )
    assert parse("--list-page-size", "3").list_page_size == 3
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--dialect", "newest"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--list-page-size", "0"])


def test_the_gateway_is_off_by_default_and_set_by_flag_or_knob():
    parse = lambda *a: knobs_from(build_parser().parse_args(["serve", *a]))
    assert parse("--dialect", "current").gateway_timeout_seconds is None
    assert parse("--dialect", "current", "--gateway-timeout", "60").gateway_timeout_seconds == 60.0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--gateway-timeout", "0"])
    assert parse_knobs(Knobs(), {"gateway_timeout_seconds": 1.5}).gateway_timeout_seconds == 1.5
    assert (
        parse_knobs(
            Knobs(gateway_timeout_seconds=2), {"gateway_timeout_seconds": None}
        ).gateway_timeout_seconds
        is None
    )
    with pytest.raises(ValueError, match="gateway_timeout_seconds"):
        parse_knobs(Knobs(), {"gateway_timeout_seconds": "soon"})


def test_run_bodies_are_checked_in_the_schema_order():
    current = get_dialect("current")
    with pytest.raises(api_errors.APIError) as first:
        current.parse_run({"variables_values": {}, "refresh": "blocking"}, {})
    assert first.value.attr == "refresh"  # a declared field's error comes before the extras
    assert current.parse_run({"refresh": "direct"}, {}).direct is True
    assert current.parse_run({"version": "2"}, {"version": "1"}).version == 2
    with pytest.raises(api_errors.APIError) as bad:
        current.parse_run({"limit": True}, {})
    assert bad.value.attr == "limit"


def test_an_older_state_file_gains_the_soft_delete_column(tmp_path):
    path = tmp_path / "state.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA.replace("    deleted_at REAL,\n", ""))
        db.execute(
            "INSERT INTO endpoints (id, project_id, name, created_at, updated_at) VALUES ('e', 1, 'old', 0, 0)"
        )
        assert "deleted_at" not in {r[1] for r in db.execute("PRAGMA table_info(endpoints)")}
    store = Store(path)
    try:
        assert store.get_endpoint(1, "old") is not None
        store.soft_delete_endpoint("e")
        assert store.get_endpoint(1, "old") is None and store.list_endpoints(1) == []
        assert store.get_endpoint_by_id("e") is not None  # kept, under a name no request can reach
    finally:
        store.close()
