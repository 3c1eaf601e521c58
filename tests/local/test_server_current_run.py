"""``--dialect current`` runs, over HTTP against the session's current server.

What PostHog's endpoints API does today (``products/endpoints/backend``: ``EndpointRunRequest``
with ``extra="forbid"``, ``validate_run_request``, ``_execute_query_and_respond``), which the
local server imitates strictly so that the integration can be proven against it.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime

import httpx
import pytest

EXTRA = {"type": "validation_error", "code": "invalid_input", "detail": "Extra inputs are not permitted"}
RUN_FIELDS = {
    "client_query_id",
    "debug",
    "filters_override",
    "limit",
    "offset",
    "refresh",
    "variables",
    "version",
}


def refusal(detail: str, attr: str) -> dict:
    return {"type": "validation_error", "code": "invalid_input", "detail": detail, "attr": attr}


@pytest.mark.parametrize("field", ["variables_values", "variables_override", "cache_age_seconds", "nonsense"])
def test_a_field_outside_the_schema_is_refused_by_name(current_client: httpx.Client, field):
    r = current_client.post("endpoints/top_events/run/", json={field: {}, "refresh": "cache"})
    assert r.status_code == 400 and r.json() == {**EXTRA, "attr": field}


def test_every_schema_field_is_accepted_together(current_client: httpx.Client, current_factory):
    name = current_factory("SELECT {variables.n} AS n", variables={"n": 1})
    body = {
        "variables": {"n": 7},
        "refresh": "force",
        "version": 1,
        "limit": 5,
        "offset": 0,
        "debug": False,
        "client_query_id": uuid.uuid4().hex,
        "filters_override": None,
    }
    assert set(body) == RUN_FIELDS
    r = current_client.post(f"endpoints/{name}/run/", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["results"] == [[7]]


@pytest.mark.parametrize(
    "mode", ["blocking", "async", "lazy_async", "force_blocking", "force_async", "force_cache", "x"]
)
def test_only_cache_force_and_direct_exist(current_client: httpx.Client, mode):
    r = current_client.post("endpoints/top_events/run/", json={"refresh": mode})
    assert r.status_code == 400
    assert r.json() == refusal("Input should be 'cache', 'force' or 'direct'", "refresh")


def test_cache_is_the_default_and_force_recomputes_never_async(
    current_client, current_factory, current_control
):
    name = current_factory("SELECT 1 AS one")
    first = current_client.post(f"endpoints/{name}/run/", json={})
    again = current_client.post(f"endpoints/{name}/run/", json={"refresh": "cache"})
    forced = current_client.post(f"endpoints/{name}/run/", json={"refresh": "force"})
    assert [r.status_code for r in (first, again, forced)] == [200, 200, 200]
    assert [r.json()["is_cached"] for r in (first, again, forced)] == [False, True, False]
    assert len(current_control.executions(endpoint=name)) == 2
    assert all(not e["query_async"] for e in current_control.executions(endpoint=name))


def test_direct_needs_a_materialized_endpoint_and_skips_its_table(
    current_client, current_factory, wait_until
):
    plain = current_factory("SELECT 1 AS one")
    r = current_client.post(f"endpoints/{plain}/run/", json={"refresh": "direct"})
    assert r.status_code == 400 and r.json()["attr"] == "refresh" and "materialized" in r.json()["detail"]

    name = current_factory("SELECT number AS n FROM numbers(3)", is_materialized=True)
    wait_until(
        lambda: (
            current_client.get(f"endpoints/{name}/").json()["materialization"].get("status") == "Completed"
        )
    )
    from_table = current_client.post(f"endpoints/{name}/run/", json={"refresh": "force"}).json()
    direct = current_client.post(f"endpoints/{name}/run/", json={"refresh": "direct"}).json()
    assert from_table["endpoint_materialized"] is True  # force still reads the table (PostHog)
    assert "endpoint_materialized" not in direct and direct["results"] == from_table["results"]


def test_run_refusals_name_their_field(current_client: httpx.Client, current_factory):
    name = current_factory("SELECT {variables.n} AS n", variables={"n": 1})
    cases = [
        ({"variables": {"x": 1, "n": 2}}, refusal("Unknown variable(s): x", "variables")),
        (
            {"query_override": {"kind": "HogQLQuery"}},
            refusal("Not allowed. Use variables instead.", "query_override"),
        ),
        (
            {"filters_override": {"date_from": "-7d"}},
            refusal("Not allowed for HogQL endpoints. Use variables instead.", "filters_override"),
        ),
    ]
    for body, expected in cases:
        r = current_client.post(f"endpoints/{name}/run/", json=body)
        assert (r.status_code, r.json()) == (400, expected), body


def test_without_a_limit_100_rows_come_back_and_has_more_is_false(current_client, current_factory):
    name = current_factory("SELECT number AS n FROM numbers(250) ORDER BY n")
    cut = current_client.post(f"endpoints/{name}/run/", json={}).json()
    assert [r[0] for r in cut["results"]] == list(range(100)) and cut["hasMore"] is False  # silent truncation
    page = current_client.post(f"endpoints/{name}/run/", json={"limit": 100}).json()
    assert len(page["results"]) == 100 and page["hasMore"] is True
    last = current_client.post(
        f"endpoints/{name}/run/?limit=100&offset=200", json={}
    ).json()  # the query string
    assert [r[0] for r in last["results"]] == list(range(200, 250)) and last["hasMore"] is False
    got = current_client.get(f"endpoints/{name}/run/", params={"limit": 3, "offset": 10}).json()
    assert [r[0] for r in got["results"]] == [10, 11, 12]


def test_offset_requires_a_limit(current_client: httpx.Client):
    for kwargs in ({"json": {"offset": 5}}, {"json": {}, "params": {"offset": 5}}):
        r = current_client.post("endpoints/top_events/run/", **kwargs)
        assert (r.status_code, r.json()) == (400, {"error": "offset requires limit to be set"})


def test_result_names_the_version_and_hides_the_cache_key_without_debug(current_client, current_factory):
    name = current_factory("SELECT 'first' AS v")
    current_client.patch(
        f"endpoints/{name}/", json={"query": {"kind": "HogQLQuery", "query": "SELECT 'second' AS v"}}
    )
    result = current_client.post(f"endpoints/{name}/run/", json={}).json()
    assert result["results"] == [["second"]] and result["name"] == name
    assert result["endpoint_version"] == 2 and datetime.fromisoformat(result["endpoint_version_created_at"])
    assert not {"_version", "_version_created_at", "cache_key"} & set(result)
    assert next(iter(result)) == "results"
    debug = current_client.post(f"endpoints/{name}/run/", json={"debug": True, "version": 1}).json()
    assert debug["results"] == [["first"]] and debug["endpoint_version"] == 1 and debug["cache_key"]
    by_query = current_client.post(f"endpoints/{name}/run/?version=1", json={}).json()
    assert by_query["endpoint_version"] == 1


def test_an_unknown_version_is_404_with_the_current_version(current_client, current_factory):
    name = current_factory("SELECT 1 AS one")
    for kwargs in ({"json": {"version": 9}}, {"json": {}, "params": {"version": 9}}):
        r = current_client.post(f"endpoints/{name}/run/", **kwargs)
        assert (r.status_code, r.json()) == (
            404,
            {"error": f"Version 9 not found for endpoint '{name}'", "current_version": 1},
        )


def test_a_blocking_run_can_be_cancelled_by_its_client_query_id(
    current_client, current_factory, current_control, wait_until
):
    name = current_factory("SELECT 1 AS one")
    current_control.set_knobs(latency_by_endpoint={name: 30.0})
    query_id = uuid.uuid4().hex
    answer: dict = {}

    def run() -> None:
        answer["r"] = current_client.post(f"endpoints/{name}/run/", json={"client_query_id": query_id})

    thread = threading.Thread(target=run)
    thread.start()
    wait_until(
        lambda: (
            current_control.executions(query_id)
            and current_control.executions(query_id)[0]["status"] == "running"
        )
    )
    assert current_client.get(f"query/{query_id}/").status_code == 202  # the query API sees the sync run
    assert current_client.delete(f"query/{query_id}/").json() == {"message": "Query task revoked"}
    thread.join(30)
    assert answer["r"].status_code == 400 and "cancel" in answer["r"].json()["detail"].lower()
    assert current_control.executions(query_id)[0]["status"] == "cancelled"


def test_last_execution_times_move_at_most_every_30_minutes(current_client, current_factory, current_control):
    assert current_control.knobs()["last_execution_granularity_seconds"] == 1800
    name = current_factory("SELECT 1 AS one")

    def last() -> str:
        body = current_client.post("endpoints/last_execution_times/", json={"names": [name]}).json()
        return dict(body["query_status"]["results"])[name]

    current_client.post(f"endpoints/{name}/run/", json={"refresh": "force"})
    first = last()
    current_client.post(f"endpoints/{name}/run/", json={"refresh": "force"})
    assert last() == first and len(current_control.executions(endpoint=name)) == 2
    current_control.set_knobs(last_execution_granularity_seconds=0)
    current_client.post(f"endpoints/{name}/run/", json={"refresh": "force"})
    assert last() > first


def test_run_body_fields_are_counted_refused_or_not(current_client, current_control):
    current_client.post("endpoints/top_events/run/", json={"variables_values": {"min_count": 1}})
    current_client.post("endpoints/top_events/run/", json={"variables": {"min_count": 1}, "limit": 5})
    assert current_control.stats()["run_body_fields"] == {"variables_values": 1, "variables": 1, "limit": 1}
