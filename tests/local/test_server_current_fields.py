"""``--dialect current``: the fields of today's endpoint, over HTTP.

Each test names the PostHog test (``products/endpoints/backend/tests/``) or source it follows.
Cache ages are moved with the ``clock_offset_seconds`` knob, never by waiting.
"""

from __future__ import annotations

import uuid

import httpx

HOUR = 3600


def test_tags_are_normalised_sorted_and_replaced(current_client: httpx.Client, current_factory):
    """views/api.py::_get_tag_names (sorted, unique) and crud.apply_tags (replace; omitted: unchanged);
    names go through PostHog's tagify (trimmed, lower case)."""
    name = current_factory("SELECT 1 AS one", tags=["Revenue ", "core", "revenue"])
    assert current_client.get(f"endpoints/{name}/").json()["tags"] == ["core", "revenue"]
    r = current_client.patch(f"endpoints/{name}/", json={"description": "no tags sent"})
    assert r.json()["tags"] == ["core", "revenue"]
    r = current_client.patch(f"endpoints/{name}/", json={"tags": ["daily"]})
    assert r.json()["tags"] == ["daily"]
    listed = current_client.get("endpoints/", params={"limit": 1000}).json()["results"]
    assert next(e for e in listed if e["name"] == name)["tags"] == ["daily"]
    bad = current_client.patch(f"endpoints/{name}/", json={"tags": "daily"})
    assert bad.status_code == 400 and bad.json()["attr"] == "tags"


def test_derived_from_insight_is_kept(current_client, current_factory):
    """test_endpoint.py::test_create_hogql_endpoint (null when not sent); crud.create keeps the value."""
    plain = current_factory("SELECT 1 AS one")
    assert current_client.get(f"endpoints/{plain}/").json()["derived_from_insight"] is None
    name = current_factory("SELECT 1 AS one", derived_from_insight="aBc123Xy")
    assert current_client.get(f"endpoints/{name}/").json()["derived_from_insight"] == "aBc123Xy"
    assert (
        current_client.get(f"endpoints/{name}/", params={"version": 1}).json()["derived_from_insight"]
        == "aBc123Xy"
    )


def test_unset_freshness_reads_as_24_hours(current_client, current_factory):
    """constants.DEFAULT_DATA_FRESHNESS_SECONDS: crud.create stores it when none (or null) is sent,
    and an update with null resets to it."""
    for fields in ({}, {"data_freshness_seconds": None}):
        name = current_factory("SELECT 1 AS one", **fields)
        assert current_client.get(f"endpoints/{name}/").json()["data_freshness_seconds"] == 86400
    name = current_factory("SELECT 1 AS one", data_freshness_seconds=900)
    r = current_client.patch(f"endpoints/{name}/", json={"data_freshness_seconds": None})
    assert r.json()["data_freshness_seconds"] == 86400


def test_the_cache_lives_as_long_as_the_freshness_says(current_client, current_factory, current_control):
    """logic/execution.py::_execute_inline_endpoint caches for the version's data_freshness_seconds
    (test_endpoint_materialization.py::test_cache_invalidated_after_query_update relies on it): 24 h
    when unset, not the 6 h of the documented dialect."""
    name = current_factory(f"SELECT '{uuid.uuid4().hex}' AS tag")
    assert current_client.post(f"endpoints/{name}/run/", json={}).json()["is_cached"] is False
    current_control.set_knobs(clock_offset_seconds=7 * HOUR)
    assert current_client.post(f"endpoints/{name}/run/", json={}).json()["is_cached"] is True
    current_control.set_knobs(clock_offset_seconds=25 * HOUR)
    assert current_client.post(f"endpoints/{name}/run/", json={}).json()["is_cached"] is False
    current_control.set_knobs(clock_offset_seconds=0)
    short = current_factory(f"SELECT '{uuid.uuid4().hex}' AS tag", data_freshness_seconds=900)
    current_client.post(f"endpoints/{short}/run/", json={})
    current_control.set_knobs(clock_offset_seconds=1000)
    assert current_client.post(f"endpoints/{short}/run/", json={}).json()["is_cached"] is False


def test_a_materialized_endpoint_shows_its_saved_query_and_the_version_id(
    current_client, current_factory, wait_until
):
    """test_endpoint_materialization.py::test_materialization_status_in_response (saved_query_id,
    current_version_id) and ::test_materialization_error_visibility_by_status (no error once Completed)."""
    name = current_factory("SELECT 1 AS one")
    before = current_client.get(f"endpoints/{name}/").json()
    assert before["materialization"] == {"can_materialize": True, "reason": None}
    current_client.patch(
        f"endpoints/{name}/", json={"is_materialized": True, "data_freshness_seconds": 43200}
    )
    done = wait_until(
        lambda: (
            (e := current_client.get(f"endpoints/{name}/").json())["materialization"].get("status")
            == "Completed"
            and e
        )
    )
    mat = done["materialization"]
    assert set(mat) == {"status", "can_materialize", "last_materialized_at", "error", "saved_query_id"}
    assert mat["can_materialize"] is True and mat["error"] == "" and mat["last_materialized_at"]
    assert uuid.UUID(mat["saved_query_id"])
    version = current_client.get(f"endpoints/{name}/", params={"version": 1}).json()
    assert done["current_version_id"] == version["version_id"]
    assert (
        current_client.get(f"endpoints/{name}/").json()["materialization"]["saved_query_id"]
        == mat["saved_query_id"]
    )


def test_the_documented_dialect_shows_none_of_it(local_client, endpoint_factory):
    """The reference page's shapes are unchanged."""
    name = endpoint_factory("SELECT 1 AS one")
    endpoint = local_client.get(f"endpoints/{name}/").json()
    assert (
        endpoint["cache_age_seconds"] is None
        and "tags" not in endpoint
        and "current_version_id" not in endpoint
    )
