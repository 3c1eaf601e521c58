"""``--dialect current``: what a run is refused for before it runs, over HTTP.

Each test names the PostHog test (``products/endpoints/backend/tests/``) or source
(``presentation/views/api.py``, ``logic/execution.py``) it follows.
"""

from __future__ import annotations

import httpx
import pytest


def plain(name: str, value: object) -> dict:
    return {"error": f"Invalid {name} parameter: {value}"}


@pytest.mark.parametrize(
    ("body", "params", "expected"),
    [
        ({"limit": -1}, {}, plain("limit", -1)),
        ({"limit": 0}, {}, plain("limit", 0)),
        ({"limit": "-3"}, {}, plain("limit", -3)),  # pydantic reads the number, the view refuses it
        ({"limit": 5, "offset": -2}, {}, plain("offset", -2)),
        ({}, {"limit": "-1"}, plain("limit", "-1")),
        ({}, {"limit": "abc"}, plain("limit", "abc")),
        ({}, {"limit": "5", "offset": "-1"}, plain("offset", "-1")),
    ],
)
def test_bad_limits_and_offsets_get_the_plain_error_in_the_body_as_in_the_url(
    current_client: httpx.Client, body, params, expected
):
    """views/api.py::_parse_int_param: the same range check for the body and the query string."""
    r = current_client.post("endpoints/top_events/run/", json=body, params=params)
    assert (r.status_code, r.json()) == (400, expected)


def test_the_body_wins_over_the_url(current_client: httpx.Client):
    """_parse_int_param reads the URL only when the body has no value."""
    r = current_client.post("endpoints/top_events/run/", json={"limit": 2}, params={"limit": "-1"})
    assert r.status_code == 200 and len(r.json()["results"]) <= 2


def test_a_body_value_that_is_no_integer_is_the_schema_error(current_client: httpx.Client):
    """views/api.py::_parse_run_request turns pydantic's error into a field-level 400."""
    r = current_client.post("endpoints/top_events/run/", json={"limit": "many"})
    assert r.status_code == 400 and r.json()["type"] == "validation_error" and r.json()["attr"] == "limit"


def test_a_materialized_endpoint_needs_every_variable(current_client, current_factory):
    """test_endpoint_execution.py::test_materialized_hogql_endpoint_requires_variable: no saved default is
    used; the 400 names the variable and says required (logic/execution.py::validate_run_request)."""
    name = current_factory(
        "SELECT {variables.event_name} AS e, {variables.n} AS n", variables={"event_name": "signup", "n": 1}
    )
    assert current_client.post(f"endpoints/{name}/run/", json={}).status_code == 200  # not materialized yet
    current_client.patch(f"endpoints/{name}/", json={"is_materialized": True})
    expected = {
        "type": "validation_error",
        "code": "invalid_input",
        "detail": "Required variable(s) 'event_name', 'n' not provided",
        "attr": "variables",
    }
    for body in ({}, {"refresh": "direct"}, {"variables": {"event_name": None, "n": None}}):
        r = current_client.post(f"endpoints/{name}/run/", json=body)
        assert (r.status_code, r.json()) == (400, expected), body
    partial = current_client.post(f"endpoints/{name}/run/", json={"variables": {"n": 2}})
    assert partial.json()["detail"] == "Required variable(s) 'event_name' not provided"
    ok = current_client.post(f"endpoints/{name}/run/", json={"variables": {"event_name": "x", "n": 2}})
    assert ok.status_code == 200 and ok.json()["results"] == [["x", 2]]


def test_unknown_variables_are_named_before_missing_ones(current_client, current_factory):
    """validate_run_request checks unknown variables first
    (test_endpoint_execution.py::test_materialized_hogql_endpoint_rejects_unknown_variable)."""
    name = current_factory("SELECT {variables.n} AS n", variables={"n": 1}, is_materialized=True)
    r = current_client.post(f"endpoints/{name}/run/", json={"variables": {"not_materialized": 1}})
    assert r.status_code == 400 and r.json()["detail"] == "Unknown variable(s): not_materialized"


def test_the_documented_dialect_runs_materialized_endpoints_on_saved_values(local_client, endpoint_factory):
    """The reference page's server is unchanged: a materialized endpoint runs on its saved defaults."""
    name = endpoint_factory("SELECT {variables.n} AS n", variables={"n": 7}, is_materialized=True)
    r = local_client.post(f"endpoints/{name}/run/", json={})
    assert r.status_code == 200 and r.json()["results"] == [[7]]
