"""A bounded, deterministic fuzz of every route: no input produces a 5xx.

A seeded generator builds hostile values (huge and negative numbers, floats out of range, wrong
types, deep nesting, long and odd strings, relative dates far in the past, ...) and sends them as
bodies, query strings and path parts to every route of the API and of ``/_local/``, with the
owner's key, a read-only key and the admin token. Each answer must be below 500 and JSON (every
error in PostHog's shape); the server must answer a plain request afterwards.
"""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
from attack_helpers import ATTACKER, READER, endpoint_body, unique

pytestmark = pytest.mark.integration

SEED = 20261204
CASES = 120  # requests per route family: bounded so the suite stays quick

NUMBERS: list[Any] = [
    0,
    -1,
    1,
    2**31,
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    1e308,
    -1e308,
    1.5,
    -0.0,
    99999999999,
    300,
    86400,
]
STRINGS = [
    "",
    " ",
    "x" * 5000,
    "-99999999999d",
    "-1d",
    "9999-12-31",
    "0001-01-01",
    "2026-13-45",
    "dStart",
    "'; DROP TABLE events; --",
    "{variables.x}",
    "{filters}",
    "\x00",
    "\ud7ff",
    "名前",
    "../../etc",
    "%s%n",
    "1e999",
    "NaN",
    "-Infinity",
    "true",
    "null",
    "2026-01-01T00:00:00+99:99",
    "-9999999999999999999999h",
]


def value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if pick < 0.3:
        return rng.choice(NUMBERS)
    if pick < 0.6:
        return rng.choice(STRINGS)
    if pick < 0.7:
        return rng.choice([None, True, False])
    if depth > 3:
        return []
    if pick < 0.85:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(STRINGS + FIELDS): value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


FIELDS = [
    "refresh",
    "variables_values",
    "variables_override",
    "filters_override",
    "query_override",
    "version",
    "limit",
    "offset",
    "client_query_id",
    "date_from",
    "date_to",
    "properties",
    "name",
    "query",
    "description",
    "is_active",
    "cache_age_seconds",
    "is_materialized",
    "sync_frequency",
    "names",
    "variables",
    "debug",
    "direct",
    "key",
    "operator",
    "value",
    "kind",
    "latency_seconds",
    "fault_rate",
    "rate_limit_per_minute",
    "clock_offset_seconds",
    "list_page_size",
]
REFRESH = ["blocking", "force_blocking", "async", "lazy_async", "force_async", "force_cache", "bogus"]


def run_body(rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for field in rng.sample(FIELDS[:9], rng.randint(1, 5)):
        body[field] = value(rng)
    if rng.random() < 0.5:
        body["refresh"] = rng.choice(REFRESH)
    if rng.random() < 0.5:
        body["filters_override"] = {
            "date_from": rng.choice(STRINGS + NUMBERS),
            "date_to": rng.choice(STRINGS + NUMBERS),
            "properties": [
                {
                    "key": rng.choice(STRINGS),
                    "value": value(rng),
                    "operator": rng.choice([*STRINGS, "gt", "regex", "exact"]),
                }
            ],
        }
    if rng.random() < 0.5:
        body["variables_values"] = {"since": value(rng)}
    return body


@pytest.fixture(scope="module")
def target(attack_server):
    """An endpoint of project 2 with a variable and ``{filters}``, to aim run bodies at."""
    name = unique("fuzz")
    body = endpoint_body(
        "SELECT count() AS n FROM events WHERE timestamp >= {variables.since} AND {filters}",
        name=name,
        variables={"since": "2020-01-01"},
    )
    with httpx.Client(
        base_url=f"{attack_server.url}/api/projects/2/", headers={"Authorization": f"Bearer {ATTACKER}"}
    ) as c:
        assert c.post("endpoints/", json=body).status_code == 201
        yield name
        c.delete(f"endpoints/{name}/")


def check(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"{what} -> {response.status_code} {response.text[:300]}"
    if response.content:
        response.json()  # every answer is JSON


def requests_for(rng: random.Random, name: str) -> list[tuple[str, str, Any, dict[str, str] | None]]:
    base = "/api/projects/2/endpoints"
    out: list[tuple[str, str, Any, dict[str, str] | None]] = []
    for _ in range(CASES):
        kind = rng.randrange(11)
        if kind == 0:
            out.append(("POST", f"{base}/{name}/run/", run_body(rng), None))
        elif kind == 1:
            out.append(
                (
                    "GET",
                    f"{base}/{name}/run/",
                    None,
                    {"version": str(rng.choice(STRINGS + NUMBERS)), "limit": str(rng.choice(NUMBERS))},
                )
            )
        elif kind == 2:
            body = {f: value(rng) for f in rng.sample(FIELDS[9:19], rng.randint(1, 6))}
            out.append(("POST", f"{base}/", body, None))
        elif kind == 3:
            body = {f: value(rng) for f in rng.sample(FIELDS[11:19], rng.randint(1, 4))}
            out.append((rng.choice(["PATCH", "PUT"]), f"{base}/{name}/", body, None))
        elif kind == 4:
            out.append(("POST", f"{base}/last_execution_times/", {"names": value(rng)}, None))
        elif kind == 5:
            out.append(
                (
                    "GET",
                    f"{base}/{name}/versions/{rng.choice(STRINGS[:12] + [str(n) for n in NUMBERS])}/",
                    None,
                    None,
                )
            )
        elif kind == 6:
            qid = str(rng.choice(STRINGS + NUMBERS))[:300]
            out.append(
                (
                    rng.choice(["GET", "DELETE"]),
                    f"/api/projects/2/query/{qid}/",
                    None,
                    {"show_progress": "true"},
                )
            )
        elif kind == 7:
            out.append(
                (
                    "GET",
                    f"{base}/",
                    None,
                    {"is_active": rng.choice(STRINGS), "created_by": str(rng.choice(NUMBERS))},
                )
            )
        elif kind == 9:
            other = str(rng.choice(STRINGS[:12]))[:200] or "x"
            out.append(("DELETE", f"{base}/{other}/", None, None))
        elif kind == 10:
            out.append(("GET", f"{base}/{name}/versions/", None, {"limit": str(rng.choice(NUMBERS))}))
        else:
            project = rng.choice(["2", "0", "-1", "99999999999999999999", "abc", "2.5", "%00"])
            out.append(("GET", f"/api/projects/{project}/endpoints/{name}/", None, None))
    return out


def test_no_api_input_is_a_5xx(attack_server, target):
    rng = random.Random(SEED)
    with httpx.Client(base_url=attack_server.url, timeout=60) as client:
        for method, path, body, params in requests_for(rng, target):
            key = rng.choice([ATTACKER, READER])
            r = client.request(
                method, path, json=body, params=params, headers={"Authorization": f"Bearer {key}"}
            )
            check(r, f"{method} {path} {str(body)[:200]} {params}")
        r = client.get(
            f"/api/projects/2/endpoints/{target}/", headers={"Authorization": f"Bearer {ATTACKER}"}
        )
        assert r.status_code == 200


def test_no_control_input_is_a_5xx(attack_server):
    rng = random.Random(SEED + 1)
    admin = {"Authorization": f"Bearer {attack_server.admin_token}"}
    before = attack_server.control.knobs()
    with httpx.Client(base_url=attack_server.url, timeout=30, headers=admin) as client:
        for _ in range(CASES):
            knobs = {
                rng.choice(
                    [
                        *FIELDS[-5:],
                        "latency_by_endpoint",
                        "fault_kinds",
                        "fault_paths",
                        "last_execution_granularity_seconds",
                    ]
                ): value(rng)
                for _ in range(rng.randint(1, 3))
            }
            r = client.post("/_local/knobs", json=knobs)
            check(r, f"knobs {knobs}")
            if r.status_code == 200:
                client.post("/_local/knobs/reset")
            check(
                client.get(
                    "/_local/executions",
                    params={"project_id": str(rng.choice(NUMBERS)), "client_query_id": rng.choice(STRINGS)},
                ),
                "executions",
            )
    attack_server.control.reset_knobs()
    assert attack_server.control.knobs() == before


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[]",
        b"\xff\xfe",
        b'{"a": 1e999}',
        b'{"refresh": "blocking"' + b" " * 10,
        b"null",
        b'"x"',
        b"1" * 5000,
    ],
)
def test_malformed_bodies_are_4xx(raw, attack_server, target):
    headers = {"Authorization": f"Bearer {ATTACKER}", "Content-Type": "application/json"}
    for path in (
        f"/api/projects/2/endpoints/{target}/run/",
        "/api/projects/2/endpoints/",
        "/api/projects/2/endpoints/last_execution_times/",
    ):
        r = httpx.post(f"{attack_server.url}{path}", content=raw, headers=headers, timeout=30)
        check(r, f"{path} {raw[:30]!r}")


ODD_CREDENTIALS = [
    b"Bearer \xff\xfe",
    b"Bearer",
    b"bearer  x y",
    b"Basic eDp5",
    b"Bearer " + b"k" * 8000,
    b"Token x",
]


@pytest.mark.parametrize("header", ODD_CREDENTIALS, ids=range(len(ODD_CREDENTIALS)))
def test_odd_credentials_are_401_everywhere(header, attack_server, target):
    paths = [
        ("GET", "/api/projects/2/endpoints/"),
        ("POST", f"/api/projects/2/endpoints/{target}/run/"),
        ("GET", "/api/projects/2/query/x/"),
        ("GET", "/_local/knobs"),
        ("POST", "/_local/cache/clear"),
    ]
    for method, path in paths:
        r = httpx.request(method, f"{attack_server.url}{path}", headers={"Authorization": header}, timeout=30)
        assert r.status_code == 401, (path, r.status_code, r.text[:200])
