"""Malformed input: out-of-range dates, numbers and sizes are 400s naming the field, never 5xx.

The attacks found: a read-only key got a 500 with ``filters_override`` ``date_from: "-99999999999d"``.
"""

from __future__ import annotations

import pytest
from attack_helpers import endpoint_body

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dated(attack_server):
    from attack_helpers import ATTACKER, api

    body = endpoint_body("SELECT count() AS n FROM events WHERE {filters}", variables=None)
    with api(attack_server, ATTACKER, 2) as client:
        assert client.post("endpoints/", json=body).status_code == 201
        yield body["name"]
        client.delete(f"endpoints/{body['name']}/")


DATES = [
    "-99999999999d",
    "-99999999999999999999999h",
    "-999999y",
    "-1000000q",
    "9999-12-31",
    "0001-01-01",
    "1899-12-31",
    "2300-01-01",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00-14:00",
    "2026-02-30",
    "yesterday",
    "",
    20260101,
    1e308,
    ["2026-01-01"],
    {"a": 1},
]


@pytest.mark.parametrize("field", ["date_from", "date_to"])
@pytest.mark.parametrize("when", DATES, ids=[repr(d)[:30] for d in DATES])
def test_out_of_range_dates_are_400_naming_the_field(field, when, dated, reader):
    r = reader.post(
        f"endpoints/{dated}/run/", json={"filters_override": {field: when}, "refresh": "force_blocking"}
    )
    assert r.status_code == 400, r.text
    assert r.json()["attr"] == "filters_override"


@pytest.mark.parametrize(
    "body, attr",
    [
        ({"limit": 10**30}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": 10**30}, "offset"),
        ({"offset": -5}, "offset"),
        ({"version": 10**30}, None),
        ({"version": -1}, None),
        ({"version": "abc"}, None),
        ({"refresh": "sometimes"}, "refresh"),
        ({"client_query_id": "x" * 100_000}, None),
        ({"variables_values": {"nope": 1}}, "variables_values"),
        ({"filters_override": "yesterday"}, "filters_override"),
    ],
)
def test_out_of_range_run_fields_are_4xx(body, attr, dated, reader):
    r = reader.post(f"endpoints/{dated}/run/", json={"refresh": "force_blocking", **body})
    assert 400 <= r.status_code < 500, r.text
    if attr is not None:
        assert r.json().get("attr") == attr, r.text


@pytest.mark.parametrize(
    "value, status",
    [
        ([1, "a"], 400),
        ({"a": 1}, 400),
        ([[1]], 400),
        (2**64, 200),
        (-(2**63) - 1, 200),
        (10**40, 200),
        ([2**70], 200),
    ],
)
def test_variable_values_are_bound_or_refused_never_5xx(value, status, attacker):
    """JSON numbers beyond 64 bits arrive as floats (bound as Float64); other shapes are refused."""
    body = endpoint_body("SELECT {variables.v} AS v", variables={"v": 1})
    assert attacker.post("endpoints/", json=body).status_code == 201
    try:
        r = attacker.post(f"endpoints/{body['name']}/run/", json={"variables_values": {"v": value}})
        assert r.status_code == status, r.text
    finally:
        attacker.delete(f"endpoints/{body['name']}/")


@pytest.mark.parametrize(
    "prop",
    [
        {"key": "a", "value": 10**40, "operator": "gt"},
        {"key": "$browser", "operator": "regex", "value": "("},
        {"key": "x" * 10_000, "value": "y"},
        {"key": "$browser", "operator": "exact", "value": ["a"] * 10_000},
    ],
)
def test_extreme_property_filters_are_never_5xx(prop, dated, reader):
    r = reader.post(
        f"endpoints/{dated}/run/",
        json={"filters_override": {"properties": [prop]}, "refresh": "force_blocking"},
    )
    assert r.status_code < 500, r.text


@pytest.mark.parametrize(
    "fields",
    [
        {"cache_age_seconds": 1e308},
        {"cache_age_seconds": -1},
        {"cache_age_seconds": "300"},
        {"name": "x" * 10_000},
        {"description": 5},
        {"is_active": "yes"},
        {"is_materialized": "yes"},
    ],
)
def test_out_of_range_endpoint_fields_are_400(fields, attacker):
    body = endpoint_body("SELECT 1 AS one")
    body.update(fields)
    r = attacker.post("endpoints/", json=body)
    assert r.status_code == 400, r.text


@pytest.mark.parametrize("depth", [60, 1000, 100_000])
def test_deeply_nested_queries_are_400(depth, attacker):
    sql = "SELECT " + "(" * depth + "1" + ")" * depth + " AS x"
    r = attacker.post("endpoints/", json=endpoint_body(sql))
    assert r.status_code == 400 and r.json()["attr"] == "query", r.text[:300]
