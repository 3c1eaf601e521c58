"""The generated events: exact size, determinism, and the story's invariants (checked in SQL).

Builds small tables (20,000 events) beside the engine's own ``events``; one Engine per module
because chDB hosts one data directory per process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from endpoints_dagster.local.engine import dataset
from endpoints_dagster.local.engine.clickhouse import Engine
from endpoints_dagster.local.engine.dataset import DatasetSpec

ANCHOR = datetime(2026, 3, 1, 12)
SPEC = DatasetSpec(events=20_000, seed=11, days=30, anchor=ANCHOR)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    eng = Engine(tmp_path_factory.mktemp("dataset"), events=1_000, anchor=ANCHOR)
    yield eng
    eng.close()


def execute(engine: Engine) -> dataset.Execute:
    return lambda sql, params: engine.query_raw(sql, dict(params)).rows


@pytest.fixture(scope="module")
def table(engine: Engine) -> str:
    dataset.build(execute(engine), "ds_main", SPEC)
    return "ds_main"


def scalar(engine: Engine, sql: str) -> Any:
    return engine.query_raw(sql).rows[0][0]


def fingerprint(engine: Engine, table: str) -> list[Any]:
    return engine.query_raw(
        "SELECT count(), groupBitXor(cityHash64(uuid, event, distinct_id, person_id, timestamp, properties)) "
        f"FROM {table}"
    ).rows[0]


def test_exact_size_and_window(engine: Engine, table: str) -> None:
    rows, first, last = engine.query_raw(f"SELECT count(), min(timestamp), max(timestamp) FROM {table}").rows[
        0
    ]
    assert rows == SPEC.events
    assert first >= "2026-01-30T12:00:00" and last < "2026-03-01T12:00:00"


def test_same_inputs_same_rows_other_seed_other_rows(engine: Engine, table: str) -> None:
    dataset.build(execute(engine), "ds_again", SPEC)
    assert fingerprint(engine, "ds_again") == fingerprint(engine, table)
    dataset.build(execute(engine), "ds_other", DatasetSpec(events=20_000, seed=12, days=30, anchor=ANCHOR))
    other = fingerprint(engine, "ds_other")
    assert other[0] == SPEC.events and other[1] != fingerprint(engine, table)[1]


def test_every_event_kind_is_present(engine: Engine, table: str) -> None:
    kinds = dict(engine.query_raw(f"SELECT event, count() FROM {table} GROUP BY event").rows)
    assert set(kinds) == {"$pageview", "$pageleave", "feature_used", "signup", "purchase"}
    assert kinds["$pageview"] > kinds["feature_used"] > kinds["signup"] > kinds["purchase"] > 0


def test_a_person_signs_up_at_most_once(engine: Engine, table: str) -> None:
    assert (
        scalar(
            engine,
            "SELECT countIf(n > 1) FROM "
            f"(SELECT person_id, count() AS n FROM {table} WHERE event = 'signup' GROUP BY person_id)",
        )
        == 0
    )


def test_purchases_follow_the_buyers_signup(engine: Engine, table: str) -> None:
    early = scalar(
        engine,
        f"""SELECT count() FROM {table} AS p
            LEFT JOIN (SELECT person_id, min(timestamp) AS at FROM {table}
                       WHERE event = 'signup' GROUP BY person_id) AS s
            ON p.person_id = s.person_id
            WHERE p.event IN ('purchase', 'feature_used') AND (s.person_id IS NULL OR s.at = 0 OR p.timestamp <= s.at)
            SETTINGS join_use_nulls = 1""",
    )
    assert early == 0


def test_a_person_keeps_country_browser_and_os(engine: Engine, table: str) -> None:
    most = engine.query_raw(
        f"""SELECT max(c), max(b), max(o) FROM (
                SELECT uniqExact(JSONExtractString(properties, '$geoip_country_code')) AS c,
                       uniqExact(JSONExtractString(properties, '$browser')) AS b,
                       uniqExact(JSONExtractString(properties, '$os')) AS o
                FROM {table} GROUP BY person_id)"""
    )
    assert most.rows == [[1, 1, 1]]


def test_identity_anonymous_before_signup_user_after(engine: Engine, table: str) -> None:
    bad = scalar(
        engine,
        f"""SELECT count() FROM {table} AS e
            LEFT JOIN (SELECT person_id, min(timestamp) AS at FROM {table}
                       WHERE event = 'signup' GROUP BY person_id) AS s
            ON e.person_id = s.person_id
            WHERE if(s.person_id IS NOT NULL AND e.timestamp >= s.at,
                     NOT startsWith(e.distinct_id, 'user_'), NOT startsWith(e.distinct_id, 'anon_'))
            SETTINGS join_use_nulls = 1""",
    )
    assert bad == 0
    assert (
        scalar(
            engine,
            f"SELECT max(n) FROM (SELECT distinct_id, uniqExact(person_id) AS n FROM {table} GROUP BY distinct_id)",
        )
        == 1
    )


def test_properties_are_json_with_the_posthog_keys(engine: Engine, table: str) -> None:
    rows = engine.query_raw(f"SELECT event, properties FROM {table} ORDER BY timestamp LIMIT 2000").rows
    for event, text in rows:
        props = json.loads(text)
        assert {"$browser", "$os", "$geoip_country_code", "$current_url"} <= set(props)
        assert props["$current_url"].startswith("https://")
        if event == "purchase":
            assert isinstance(props["revenue"], (int, float)) and props["revenue"] > 0
            assert props["plan"] in ("starter", "pro", "enterprise") and props["currency"] == "USD"
        if event == "feature_used":
            assert props["feature"] and "plan" in props
    assert scalar(engine, f"SELECT countIf(NOT isValidJSON(properties)) FROM {table}") == 0


def test_revenue_is_plan_price_times_seats_with_an_optional_discount(engine: Engine, table: str) -> None:
    # starter: one seat; pro and enterprise: 1-5 seats; 20% off for some (annual billing)
    bad = scalar(
        engine,
        f"""SELECT countIf(NOT arrayExists(m -> abs(revenue - price * m) < 0.006,
                                          if(plan = 'starter', [1, 0.8], [1, 2, 3, 4, 5, 0.8, 1.6, 2.4, 3.2, 4.0])))
            FROM (SELECT JSONExtractString(properties, 'plan') AS plan,
                         JSONExtractFloat(properties, 'revenue') AS revenue,
                         multiIf(plan = 'starter', 29, plan = 'pro', 99, 499) AS price
                  FROM {table} WHERE event = 'purchase')""",
    )
    assert bad == 0


def test_ensure_builds_once_then_reuses(tmp_path: Path, engine: Engine) -> None:
    run = execute(engine)
    first = dataset.ensure_events(run, tmp_path, events=3_000, seed=5, days=10, table="ds_ensure")
    assert first.built_now and first.rows == 3_000 and first.fill_seconds is not None
    marker = json.loads((tmp_path / dataset.MARKER_FILE).read_text())
    assert marker["rows"] == 3_000 and datetime.fromisoformat(marker["anchor"]) == first.anchor
    again = dataset.ensure_events(run, tmp_path, events=3_000, seed=5, days=10, table="ds_ensure")
    assert not again.built_now and again.anchor == first.anchor
    bigger = dataset.ensure_events(run, tmp_path, events=4_000, seed=5, days=10, table="ds_ensure")
    assert bigger.built_now and bigger.rows == 4_000 and bigger.anchor == first.anchor  # the anchor is kept
    engine.query_raw("DROP TABLE ds_ensure")
    rebuilt = dataset.ensure_events(run, tmp_path, events=4_000, seed=5, days=10, table="ds_ensure")
    assert rebuilt.built_now and scalar(engine, "SELECT count() FROM ds_ensure") == 4_000


def test_tiny_and_invalid_sizes(engine: Engine, tmp_path: Path) -> None:
    assert (
        dataset.build(execute(engine), "ds_tiny", DatasetSpec(events=1, seed=1, days=1, anchor=ANCHOR)) >= 1
    )
    with pytest.raises(ValueError):
        dataset.ensure_events(execute(engine), tmp_path, events=0)
