"""The deterministic product-analytics dataset behind the local server's ``events`` table.

A made-up SaaS product, generated inside ClickHouse (``numbers()`` and ``cityHash64``, no
Python loops) so 300,000 events take about a second. Everything is a pure function of
(seed, size, days, anchor), so the same inputs give byte-identical tables.

The story it tells, close enough to real PostHog data for demos and tests:

- persons arrive over the window (more of them recently: a growing product); each keeps one
  country, browser, OS and plan; a few power users make most of the events; visitors who never
  sign up drift away within a week, most who sign up stay;
- a person browses the marketing site anonymously (``anon_...`` distinct id), about half sign
  up exactly once (``signup``), then use the app as ``user_<n>`` (``$pageview``, ``$pageleave``,
  ``feature_used`` with ``feature``);
- about a third of those who signed up pay: ``purchase`` events with ``revenue`` (a JSON
  number; plan price x seats, some with an annual discount), ``currency`` and ``plan``, always
  after that person's signup.

``properties`` is JSON text with ``$browser``, ``$os``, ``$geoip_country_code``,
``$current_url`` and, after signup, ``plan``. Timestamps lie in ``[anchor - days, anchor)``.

>>> spec = DatasetSpec(events=20_000, seed=7, days=90, anchor=datetime(2026, 1, 1))
>>> spec.persons
666
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# Bump when the generator changes, so stored data is rebuilt rather than silently different.
GENERATOR_VERSION = 2
MARKER_FILE = "dataset.json"

Execute = Callable[[str, Mapping[str, str]], list[list[Any]]]
"""Runs one ClickHouse statement with text parameters and returns its rows."""

EVENTS_COLUMNS = """(
    uuid UUID,
    event String,
    distinct_id String,
    person_id UUID,
    timestamp DateTime64(6, 'UTC'),
    properties String
)"""
# As PostHog: by day, then event, then person, so date- and event-bounded scans stay cheap.
EVENTS_ENGINE = (
    "ENGINE = MergeTree ORDER BY (toDate(timestamp), event, cityHash64(distinct_id), cityHash64(uuid))"
)


@dataclass(frozen=True)
class DatasetSpec:
    """What to generate: ``events`` rows in the ``days`` before ``anchor`` (naive UTC)."""

    events: int = 300_000
    seed: int = 7
    days: int = 90
    anchor: datetime = datetime(2026, 1, 1)

    @property
    def persons(self) -> int:
        return max(20, self.events // 30)

    def params(self) -> dict[str, str]:
        return {
            "seed": str(self.seed),
            "persons": str(self.persons),
            "window": str(self.days * 86400),
            "anchor": self.anchor.strftime("%Y-%m-%d %H:%M:%S.%f"),
        }


@dataclass(frozen=True)
class DatasetInfo:
    """What the ``events`` table holds, and whether this start built it (and how fast)."""

    events: int
    seed: int
    days: int
    anchor: datetime
    rows: int
    built_now: bool
    fill_seconds: float | None


def _u(stream: int, x: str, k: int) -> str:
    """A uniform number in [0, 1) from (seed, stream, x, k): the only randomness used."""
    return f"(cityHash64({{seed:UInt64}}, {stream}, {x}, {k}) % 1000000 / 1000000.)"


def _pick(u: str, choices: list[tuple[str, float]]) -> str:
    """A weighted choice among string constants by a uniform ``u``."""
    total = sum(w for _, w in choices)
    arms, acc = [], 0.0
    for name, weight in choices[:-1]:
        acc += weight / total
        arms.append(f"{u} < {acc:.6f}, '{name}'")
    return f"multiIf({', '.join(arms)}, '{choices[-1][0]}')"


def _uuid(stream: int, x: str, k: int) -> str:
    return (
        f"reinterpretAsUUID(concat(reinterpretAsFixedString(cityHash64({{seed:UInt64}}, {stream}, {x}, {k})),"
        f" reinterpretAsFixedString(cityHash64({{seed:UInt64}}, {stream}, {x}, {k + 1}))))"
    )


COUNTRIES = [
    ("US", 30),
    ("GB", 10),
    ("DE", 9),
    ("IN", 9),
    ("FR", 7),
    ("BR", 7),
    ("CA", 6),
    ("NL", 5),
    ("ES", 5),
    ("AU", 5),
    ("JP", 4),
    ("PL", 3),
]
BROWSERS = [("Chrome", 62), ("Safari", 19), ("Firefox", 9), ("Microsoft Edge", 8), ("Opera", 2)]
OSES = [("Windows", 38), ("Mac OS X", 34), ("Linux", 9), ("iOS", 12), ("Android", 7)]
FEATURES = [
    ("dashboards", 24),
    ("insights", 22),
    ("funnels", 14),
    ("session_replay", 12),
    ("feature_flags", 10),
    ("retention", 8),
    ("experiments", 6),
    ("surveys", 4),
]
SITE_PAGES = [("/", 35), ("/pricing", 18), ("/blog", 15), ("/docs", 14), ("/features", 10), ("/signup", 8)]
APP_PAGES = [
    ("/app/dashboard", 34),
    ("/app/insights", 24),
    ("/app/events", 14),
    ("/docs", 10),
    ("/app/settings", 10),
    ("/app/billing", 8),
]


def _person_columns(p: str) -> str:
    """Per-person attributes as SELECT items: a pure function of the person number ``p``."""
    u = lambda k: _u(0, p, k)
    return f"""
        -- first seen: density grows linearly to twice as many new persons at the anchor
        toUInt32({{window:UInt32}} * (2 - sqrt(4 - 3 * {u(1)}))) AS first_s,
        toInt64(first_s) - toInt64(259200 * pow({u(3)}, 2)) AS signup_s,
        signup_s * 1000000 + cityHash64({{seed:UInt64}}, 2, {p}, 3) % 1000000 AS signup_us,
        ({u(2)} < 0.48 AND signup_s > 0) AS signs_up,
        (signs_up AND {u(4)} < 0.35) AS purchaser,
        -- last seen: visitors drift away within a week; most who sign up stay (some churn)
        toInt64(if(signs_up, signup_s * pow({u(12)}, 3), greatest(0, toInt64(first_s) - 604800 * {u(12)}))) AS last_s,
        if(purchaser, {_pick(u(5), [("starter", 55), ("pro", 35), ("enterprise", 10)])}, 'free') AS plan,
        {_pick(u(6), COUNTRIES)} AS country,
        {_pick(u(7), BROWSERS)} AS browser,
        {_pick(u(8), OSES)} AS os,
        {_uuid(0, p, 9)} AS person_uuid,
        concat('user_', toString({p})) AS user_id,
        concat('anon_', lower(hex(cityHash64({{seed:UInt64}}, 0, {p}, 11)))) AS anon_id"""


def _props(extra: str) -> str:
    return (
        "concat('{\"$browser\":', toJSONString(browser), ',\"$os\":', toJSONString(os),"
        " ',\"$geoip_country_code\":', toJSONString(country), ',\"$current_url\":', toJSONString(url),"
        f" {extra}, '}}')"
    )


def signups_sql(table: str) -> str:
    """One ``signup`` per person who signs up inside the window."""
    props = _props("""',"plan":"free","signup_method":', toJSONString(method)""")
    method = _pick(_u(2, "number", 4), [("email", 50), ("google", 35), ("github", 15)])
    return f"""
    INSERT INTO {table}
    SELECT {_uuid(2, "p", 1)}, 'signup', user_id, person_uuid,
           {{anchor:DateTime64(6, 'UTC')}} - toIntervalMicrosecond(signup_us),
           {props}
    FROM (
        SELECT number AS p, {_person_columns("number")},
               'https://example.com/signup' AS url,
               {method} AS method
        FROM numbers({{persons:UInt64}})
    )
    WHERE signs_up
    SETTINGS output_format_json_escape_forward_slashes = 0"""


def signup_count_sql() -> str:
    return (
        f"SELECT countIf(signs_up) FROM (SELECT {_person_columns('number')} FROM numbers({{persons:UInt64}}))"
    )


def activity_sql(table: str) -> str:
    """Every other event: pageviews, page leaves, feature use and (after signup) purchases."""
    e = lambda k: _u(1, "i", k)
    price = "multiIf(plan = 'starter', 29., plan = 'pro', 99., 499.)"
    props = _props(
        """if(after_signup, concat(',"plan":', toJSONString(plan)), ''),
           if(event = 'feature_used', concat(',"feature":', toJSONString(feature)), ''),
           if(event = 'purchase', concat(',"revenue":', toString(revenue), ',"currency":"USD"'), '')"""
    )
    return f"""
    INSERT INTO {table}
    SELECT {_uuid(1, "i", 20)}, event, if(after_signup, user_id, anon_id), person_uuid,
           {{anchor:DateTime64(6, 'UTC')}} - toIntervalMicrosecond(ago_us),
           {props}
    FROM (
        SELECT number AS i,
               -- power users: low person numbers are picked far more often
               toUInt64(floor({{persons:UInt64}} * pow({e(1)}, 1.6))) AS p,
               {_person_columns("p")},
               -- when: inside the person's active span; 15% of a signer's events before the signup
               (signs_up AND {e(9)} < 0.15) AS before_signup,
               toUInt64(if(before_signup,
                           signup_s + (first_s - signup_s) * {e(2)},
                           last_s + (first_s - last_s) * {e(2)}) * 1000000)
                   + cityHash64({{seed:UInt64}}, 1, i, 3) % 1000000 + 1 AS ago_us,
               (signs_up AND ago_us < signup_us) AS after_signup,
               {e(4)} AS r,
               if(after_signup,
                  multiIf(r < 0.50, '$pageview', r < 0.62, '$pageleave', r < 0.95, 'feature_used',
                          purchaser, 'purchase', '$pageview'),
                  if(r < 0.8, '$pageview', '$pageleave')) AS event,
               multiIf(event = 'purchase', 'https://app.example.com/app/billing/checkout',
                       after_signup, concat('https://app.example.com', {_pick(e(5), APP_PAGES)}),
                       concat('https://example.com', {_pick(e(5), SITE_PAGES)})) AS url,
               {_pick(e(6), FEATURES)} AS feature,
               round({price} * if(plan = 'starter', 1, 1 + floor({e(7)} * 5)) * if({e(8)} < 0.2, 0.8, 1.), 2) AS revenue
        FROM numbers({{others:UInt64}})
    )
    SETTINGS output_format_json_escape_forward_slashes = 0"""


def build(execute: Execute, table: str, spec: DatasetSpec) -> int:
    """(Re)create ``table`` and fill it with exactly ``spec.events`` rows; return the row count."""
    params = spec.params()
    execute(f"DROP TABLE IF EXISTS {table} SYNC", {})
    execute(f"CREATE TABLE {table} {EVENTS_COLUMNS} {EVENTS_ENGINE}", {})
    signups = int(execute(signup_count_sql(), params)[0][0])
    execute(signups_sql(table), params)
    execute(activity_sql(table), {**params, "others": str(max(0, spec.events - signups))})
    return int(execute(f"SELECT count() FROM {table}", {})[0][0])


def _read_marker(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def ensure_events(
    execute: Execute,
    data_dir: Path,
    *,
    events: int = 300_000,
    seed: int = 7,
    days: int = 90,
    anchor: datetime | None = None,
    table: str = "events",
) -> DatasetInfo:
    """Make sure ``table`` holds the dataset for these inputs; build it only when it does not.

    The anchor (end of the window) is chosen once, the hour the data is first built, and kept
    in ``data_dir/dataset.json`` so a restart sees the same rows.
    """
    if events < 1 or days < 1:
        raise ValueError("events and days must be positive")
    marker_path = Path(data_dir) / MARKER_FILE
    marker = _read_marker(marker_path)
    if anchor is None:
        try:
            anchor = datetime.fromisoformat(marker["anchor"])
        except (KeyError, TypeError, ValueError):
            anchor = datetime.now(timezone.utc).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    spec = DatasetSpec(events=events, seed=seed, days=days, anchor=anchor.replace(tzinfo=None))
    wanted = {"version": GENERATOR_VERSION, **asdict(spec), "anchor": spec.anchor.isoformat()}
    if all(marker.get(k) == v for k, v in wanted.items()):
        exists = execute(f"EXISTS TABLE {table}", {})[0][0]
        if exists and int(execute(f"SELECT count() FROM {table}", {})[0][0]) == marker.get("rows"):
            return DatasetInfo(events, seed, days, spec.anchor, int(marker["rows"]), False, None)
    started = time.perf_counter()
    building = f"{table}_building"
    rows = build(execute, building, spec)
    execute(f"DROP TABLE IF EXISTS {table} SYNC", {})
    execute(f"RENAME TABLE {building} TO {table}", {})
    seconds = time.perf_counter() - started
    # Write the marker last and atomically: a crash mid-build means "build again", never "half".
    tmp = marker_path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**wanted, "rows": rows, "fill_seconds": round(seconds, 3)}, indent=2))
    os.replace(tmp, marker_path)
    return DatasetInfo(events, seed, days, spec.anchor, rows, True, seconds)
