"""The chDB engine: HogQL runs, values stay parameters, paging, types, cancel, threads, materialization.

One small Engine (20,000 events) per module: chDB hosts one data directory per process, so the
module closes it at the end. Expected values come from plain ClickHouse SQL (``query_raw``)
written independently of the HogQL translation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from endpoints_dagster.local.demo import demo_endpoints
from endpoints_dagster.local.engine.clickhouse import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Engine,
    EngineQueryCancelled,
    EngineQueryError,
    EngineUnavailable,
    Progress,
)

ANCHOR = datetime(2026, 1, 1)
EVENTS = 20_000
LONG_QUERY = "SELECT count() FROM numbers(100000000000) WHERE cityHash64(number) % 7 = 1"


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("engine")
    holder = {"dir": data, "engine": Engine(data, events=EVENTS, anchor=ANCHOR)}
    yield holder
    holder["engine"].close()


@pytest.fixture
def engine(state: dict[str, Any]) -> Engine:
    return state["engine"]


def raw_scalar(engine: Engine, sql: str, **params: Any) -> Any:
    return engine.query_raw(sql, params).rows[0][0]


def test_events_table_is_shaped_like_posthogs(engine: Engine) -> None:
    out = engine.run("SELECT * FROM events LIMIT 1")
    assert out.types == [
        ["uuid", "UUID"],
        ["event", "String"],
        ["distinct_id", "String"],
        ["person_id", "UUID"],
        ["timestamp", "DateTime64(6, 'UTC')"],
        ["properties", "String"],
    ]
    assert raw_scalar(engine, "SELECT count() FROM events") == EVENTS


def test_property_sugar_matches_plain_json_reads(engine: Engine) -> None:
    out = engine.run(
        "SELECT properties.$geoip_country_code, count() AS n FROM events "
        "WHERE event = 'purchase' GROUP BY properties.$geoip_country_code ORDER BY n DESC, 1"
    )
    expected = engine.query_raw(
        "SELECT JSONExtractString(properties, '$geoip_country_code') AS c, count() AS n FROM events "
        "WHERE event = 'purchase' GROUP BY c ORDER BY n DESC, c"
    )
    assert out.columns == ["$geoip_country_code", "n"]
    assert out.types[0] == ["$geoip_country_code", "Nullable(String)"]
    assert out.rows == expected.rows and len(out.rows) > 3


def test_tofloat_sums_revenue_and_missing_properties_are_null(engine: Engine) -> None:
    out = engine.run(
        "SELECT round(sum(toFloat(properties.revenue)), 2) AS revenue, countIf(properties.revenue IS NULL) AS missing "
        "FROM events WHERE event = 'purchase'"
    )
    expected = raw_scalar(
        engine,
        "SELECT round(sum(JSONExtractFloat(properties, 'revenue')), 2) FROM events WHERE event = 'purchase'",
    )
    assert out.rows == [[expected, 0]] and expected > 0
    none = engine.run("SELECT countIf(properties.revenue IS NOT NULL) FROM events WHERE event = '$pageview'")
    assert none.rows == [[0]]


def test_the_injection_string_is_only_a_string(engine: Engine) -> None:
    evil = "'; DROP TABLE events; --"
    out = engine.run("SELECT count() AS n FROM events WHERE event = {variables.e}", variables={"e": evil})
    assert out.rows == [[0]]
    out = engine.run("SELECT {variables.e} AS echoed", variables={"e": evil})
    assert out.rows == [[evil]]
    out = engine.run(
        "SELECT count() FROM events WHERE {filters}",
        filters={"properties": [{"key": "$browser", "value": evil}, {"key": evil, "operator": "is_not_set"}]},
    )
    assert out.rows == [[0]]
    assert raw_scalar(engine, "SELECT count() FROM events") == EVENTS


@pytest.mark.parametrize(
    ("value", "ch_type"),
    [
        ("x\ty\n\\z'", "String"),
        (7, "Int64"),
        (2.5, "Float64"),
        (True, "Bool"),
        (None, "Nullable(String)"),
        (["a", "b"], "Array(String)"),
    ],
)
def test_variables_round_trip_with_their_types(engine: Engine, value: Any, ch_type: str) -> None:
    out = engine.run("SELECT {variables.v} AS v", variables={"v": value})
    assert out.types == [["v", ch_type]] and out.rows == [[value]]


def test_list_variable_in_an_in_clause(engine: Engine) -> None:
    out = engine.run(
        "SELECT count() FROM events WHERE event IN {variables.names}",
        variables={"names": ["signup", "purchase"]},
    )
    assert (
        out.rows[0][0]
        == raw_scalar(engine, "SELECT count() FROM events WHERE event IN ('signup', 'purchase')")
        > 0
    )


@pytest.mark.parametrize(
    "since", ["2025-12-01", "2025-12-01 00:00:00", "2025-12-01T00:00:00Z", "2025-12-01T02:00:00+02:00"]
)
def test_timestamp_compares_with_date_strings_as_posthog(engine: Engine, since: str) -> None:
    out = engine.run(
        "SELECT count() FROM events WHERE timestamp >= {variables.since}", variables={"since": since}
    )
    expected = raw_scalar(
        engine, "SELECT count() FROM events WHERE timestamp >= toDateTime64('2025-12-01 00:00:00', 6, 'UTC')"
    )
    assert out.rows == [[expected]] and 0 < expected < EVENTS
    day = engine.run("SELECT toDate({variables.since}) AS d", variables={"since": since})
    assert day.rows == [["2025-12-01"]]


def test_missing_variable_is_named(engine: Engine) -> None:
    with pytest.raises(EngineQueryError, match="since"):
        engine.run("SELECT count() FROM events WHERE timestamp >= {variables.since}")


def test_default_limit_and_has_more(engine: Engine) -> None:
    out = engine.run("SELECT number FROM numbers(1000)")
    assert (len(out.rows), out.limit, out.offset, out.has_more) == (DEFAULT_LIMIT, DEFAULT_LIMIT, 0, True)
    exact = engine.run("SELECT number FROM numbers(100)")
    assert len(exact.rows) == 100 and not exact.has_more


def test_paging_reassembles_the_whole_ordered_result(engine: Engine) -> None:
    query = "SELECT uuid, timestamp FROM events WHERE event = 'signup' ORDER BY timestamp, uuid"
    expected = engine.query_raw(query).rows
    pages, offset = [], 0
    while True:
        out = engine.run(query, limit=37, offset=offset)
        pages.extend(out.rows)
        if not out.has_more:
            break
        offset += 37
    assert pages == expected and len(expected) > 100


def test_hard_cap_and_own_limit(engine: Engine) -> None:
    capped = engine.run("SELECT number FROM numbers(60000)", limit=100_000)
    assert (len(capped.rows), capped.limit, capped.has_more) == (MAX_LIMIT, MAX_LIMIT, True)
    own = engine.run("SELECT number FROM numbers(1000) ORDER BY number LIMIT 150")
    assert len(own.rows) == 150 and not own.has_more
    paged = engine.run("SELECT number FROM numbers(1000) ORDER BY number LIMIT 150", limit=100, offset=100)
    assert [r[0] for r in paged.rows] == list(range(100, 150)) and not paged.has_more


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (-1, 0), (10, -5), ("10", 0)])
def test_bad_paging_arguments(engine: Engine, limit: Any, offset: Any) -> None:
    with pytest.raises(EngineQueryError):
        engine.run("SELECT 1", limit=limit, offset=offset)


def test_json_values_keep_64_bit_ints_as_numbers_and_dates_as_strings(engine: Engine) -> None:
    out = engine.run(
        "SELECT toUInt64(18446744073709551615) AS big, toInt64(-9223372036854775807) AS neg, "
        "toDate('2026-01-02') AS d, toDateTime64('2026-01-02 03:04:05.123456', 6, 'UTC') AS ts, "
        "toDecimal64(1.25, 2) AS dec, [1, 2] AS arr, NULL AS nothing"
    )
    assert out.rows == [
        [2**64 - 1, -(2**63) + 1, "2026-01-02", "2026-01-02T03:04:05.123456Z", 1.25, [1, 2], None]
    ]
    assert [t for _, t in out.types] == [
        "UInt64",
        "Int64",
        "Date",
        "DateTime64(6, 'UTC')",
        "Decimal(18, 2)",
        "Array(UInt8)",
        "Nullable(Nothing)",
    ]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT nope FROM events", "nope"),
        ("SELECT count() FROM events WHERE", "Syntax error"),
        ("SELECT count() FROM events GROUP BY", "Syntax error"),
        ("SELECT 1; DROP TABLE events", "single statement"),
        ("DROP TABLE events", "Only SELECT"),
        ("SELECT * FROM file('/etc/passwd')", "not available"),
    ],
)
def test_query_errors_carry_the_engine_message(engine: Engine, sql: str, message: str) -> None:
    with pytest.raises(EngineQueryError, match=message) as err:
        engine.run(sql)
    assert "endpoints-local:" not in err.value.message  # our cancel marker is not the user's business
    assert raw_scalar(engine, "SELECT count() FROM events") == EVENTS


def test_filters_apply_dates_and_properties(engine: Engine) -> None:
    filters = {
        "date_from": "2025-12-01",
        "date_to": "2025-12-15",
        "properties": [
            {"key": "$browser", "value": "Chrome"},
            {"key": "$geoip_country_code", "value": ["US", "GB"]},
        ],
    }
    out = engine.run("SELECT count() FROM events WHERE {filters}", filters=filters)
    expected = raw_scalar(
        engine,
        "SELECT count() FROM events WHERE timestamp >= '2025-12-01' AND timestamp < '2025-12-16' "
        "AND JSONExtractString(properties, '$browser') = 'Chrome' "
        "AND JSONExtractString(properties, '$geoip_country_code') IN ('US', 'GB')",
    )
    assert out.rows == [[expected]] and expected > 0
    revenue = engine.run(
        "SELECT count() FROM events WHERE {filters}",
        filters={"properties": [{"key": "revenue", "value": 100, "operator": "gte"}]},
    )
    assert (
        revenue.rows[0][0]
        == raw_scalar(
            engine, "SELECT count() FROM events WHERE JSONExtractFloat(properties, 'revenue') >= 100"
        )
        > 0
    )


def test_cancel_stops_a_running_query_and_frees_the_engine(engine: Engine) -> None:
    cancel = threading.Event()
    seen: list[Progress] = []

    def on_progress(p: Progress) -> None:
        seen.append(p)
        cancel.set()  # cancel once the engine is demonstrably working on it

    with pytest.raises(EngineQueryCancelled):
        engine.run(LONG_QUERY, cancel=cancel, on_progress=on_progress)
    assert seen and seen[0].rows_read > 0 and seen[0].estimated_rows_total == 100_000_000_000
    running = engine.query_raw(
        "SELECT count() FROM system.processes "
        "WHERE query LIKE '%numbers(100000000000)%' AND query NOT LIKE '%system.processes%'"
    )
    assert running.rows == [[0]]
    assert engine.run("SELECT 1 AS one").rows == [[1]]


def test_cancel_set_before_the_start_never_runs(engine: Engine) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(EngineQueryCancelled):
        engine.run(LONG_QUERY, cancel=cancel)


def test_progress_reports_the_final_totals(engine: Engine) -> None:
    seen: list[Progress] = []
    out = engine.run("SELECT sum(length(properties)) FROM events", on_progress=seen.append)
    assert seen and seen[-1].rows_read == out.rows_read == EVENTS


def test_a_broken_progress_listener_does_not_break_the_query(engine: Engine) -> None:
    def boom(_: Progress) -> None:
        raise RuntimeError("listener bug")

    assert engine.run("SELECT count() FROM events", on_progress=boom).rows == [[EVENTS]]


def test_concurrent_runs_from_threads_return_their_own_results(engine: Engine) -> None:
    names = [
        "$pageview",
        "$pageleave",
        "feature_used",
        "signup",
        "purchase",
        "$pageview",
        "signup",
        "purchase",
    ]
    expected = {
        n: raw_scalar(engine, "SELECT count() FROM events WHERE event = {e:String}", e=n) for n in set(names)
    }

    def count(name: str) -> tuple[str, int]:
        out = engine.run(
            "SELECT count() AS n, any(event) AS e FROM events WHERE event = {variables.e}",
            variables={"e": name},
        )
        assert out.rows[0][1] == name
        return name, out.rows[0][0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(count, names * 3))
    assert results == [(n, expected[n]) for n in names * 3]


def test_materialize_run_and_drop(engine: Engine) -> None:
    query = (
        "SELECT toDate(timestamp) AS day, count() AS n, properties.plan FROM events "
        "WHERE event = {variables.e} GROUP BY day, properties.plan ORDER BY day, n DESC"
    )
    direct = engine.run(query, variables={"e": "feature_used"}, limit=MAX_LIMIT)
    rows = engine.materialize("mat_p1_usage-by-day_v1", query, {"e": "feature_used"})
    assert rows == len(direct.rows) > 100
    first = engine.run_materialized("mat_p1_usage-by-day_v1", limit=None)
    assert first.types == direct.types and first.rows == direct.rows[:DEFAULT_LIMIT] and first.has_more
    rest = engine.run_materialized("mat_p1_usage-by-day_v1", limit=MAX_LIMIT, offset=DEFAULT_LIMIT)
    assert rest.rows == direct.rows[DEFAULT_LIMIT:] and not rest.has_more
    engine.drop_table("mat_p1_usage-by-day_v1")
    engine.drop_table("mat_p1_usage-by-day_v1")  # dropping twice is fine
    with pytest.raises(EngineQueryError):
        engine.run_materialized("mat_p1_usage-by-day_v1", limit=10)


@pytest.mark.parametrize("name", ["a`b", "x; DROP TABLE events", "", "../x"])
def test_materialized_table_names_are_checked(engine: Engine, name: str) -> None:
    with pytest.raises(EngineQueryError, match="table name"):
        engine.materialize(name, "SELECT 1", {})


def test_materialize_refuses_writes_too(engine: Engine) -> None:
    with pytest.raises(EngineQueryError):
        engine.materialize("mat_x", "SELECT 1; DROP TABLE events", {})
    assert raw_scalar(engine, "SELECT count() FROM events") == EVENTS


@pytest.mark.parametrize("body", demo_endpoints(ANCHOR.date()), ids=lambda b: b["name"])
def test_demo_endpoints_run_on_the_generated_data(engine: Engine, body: dict[str, Any]) -> None:
    query = body["query"]
    variables = {v["code_name"]: v["value"] for v in query["variables"].values()}
    assert engine.referenced_variables(query["query"]) == set(variables)
    for var_id, var in query["variables"].items():
        assert var["variableId"] == var_id
    out = engine.run(query["query"], variables=variables)
    expected_columns = {
        "daily_signups": ["day", "signups"],
        "top_events": ["event", "events", "persons"],
        "revenue_by_country": ["country", "purchases", "revenue"],
        "signup_to_purchase_funnel": ["step", "name", "persons", "conversion"],
        "weekly_active_users": ["week", "active_users", "events"],
        "feature_usage_by_plan": ["plan", "feature", "uses", "users"],
        "events_by_browser": ["browser", "events", "persons"],
    }[body["name"]]
    assert out.columns == expected_columns
    assert out.rows and all(all(v is not None for v in row[1:]) for row in out.rows)
    if body["name"] == "signup_to_purchase_funnel":
        persons = [row[2] for row in out.rows]
        assert [row[0] for row in out.rows] == [1, 2, 3, 4] and persons == sorted(persons, reverse=True)


def test_one_data_directory_per_process(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(EngineUnavailable, match="one data directory per process"):
        Engine(tmp_path / "other", events=100)
    assert engine.run("SELECT 1").rows == [[1]]


def test_restart_keeps_events_and_materializations(state: dict[str, Any]) -> None:
    engine = state["engine"]
    engine.materialize("mat_keep", "SELECT event, count() AS n FROM events GROUP BY event ORDER BY event", {})
    before = engine.run("SELECT event, count() FROM events GROUP BY event ORDER BY event").rows
    engine.close()
    state["engine"] = reopened = Engine(state["dir"], events=EVENTS)  # no anchor: the stored one is used
    assert not reopened.dataset.built_now and reopened.dataset.anchor == ANCHOR
    assert reopened.run("SELECT event, count() FROM events GROUP BY event ORDER BY event").rows == before
    assert reopened.run_materialized("mat_keep", limit=10).rows == before
