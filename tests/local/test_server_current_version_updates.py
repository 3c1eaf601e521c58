"""``--dialect current``: PATCH/PUT aimed at one version (``?version=N`` or a ``version`` body field).

Each test names the PostHog test in ``products/endpoints/backend/tests/test_endpoint_versioning.py``
(or the source, ``logic/crud.py``) it follows.
"""

from __future__ import annotations

import httpx
import pytest

CANNOT_CHANGE_QUERY = (
    "Cannot change query when targeting a specific version. Query changes create a new version."
)


def refusal(detail: str, attr: str | None) -> dict:
    return {"type": "validation_error", "code": "invalid_input", "detail": detail, "attr": attr}


def hogql(text: str) -> dict:
    return {"kind": "HogQLQuery", "query": text}


@pytest.fixture
def two_versions(current_client: httpx.Client, current_factory) -> str:
    name = current_factory("SELECT 1 AS v", description="first")
    r = current_client.put(f"endpoints/{name}/", json={"query": hogql("SELECT 2 AS v")})
    assert r.json()["current_version"] == 2
    return name


def at(client: httpx.Client, name: str, version: int) -> dict:
    return client.get(f"endpoints/{name}/", params={"version": version}).json()


def test_a_description_aimed_at_an_old_version_changes_only_that_version(current_client, two_versions):
    """::test_update_with_version_param_updates_description_on_specific_version"""
    r = current_client.put(f"endpoints/{two_versions}/?version=1", json={"description": "v1 description"})
    assert r.status_code == 200 and r.json()["version"] == 1 and r.json()["description"] == "v1 description"
    assert at(current_client, two_versions, 1)["description"] == "v1 description"
    assert at(current_client, two_versions, 2)["description"] == "first"  # inherited when v2 was made
    assert current_client.get(f"endpoints/{two_versions}/").json()["description"] == "first"


def test_the_version_may_be_named_in_the_body(current_client, two_versions):
    """views/api.py::_parse_version_param takes the body's version before the URL's."""
    r = current_client.patch(
        f"endpoints/{two_versions}/?version=2", json={"version": 1, "description": "old"}
    )
    assert r.status_code == 200 and r.json()["version"] == 1
    assert at(current_client, two_versions, 1)["description"] == "old"
    assert at(current_client, two_versions, 2)["description"] == "first"


def test_a_version_is_deactivated_and_reactivated_alone(current_client, two_versions):
    """::test_version_activate_deactivate and ::test_version_deactivate_keeps_endpoint_activated"""
    r = current_client.put(f"endpoints/{two_versions}/?version=1", json={"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False and r.json()["endpoint_is_active"] is True
    assert current_client.get(f"endpoints/{two_versions}/").json()["is_active"] is True
    assert current_client.post(f"endpoints/{two_versions}/run/", json={}).status_code == 200
    old = current_client.post(f"endpoints/{two_versions}/run/?version=1", json={})
    # ::test_inactive_version_cannot_be_executed: 400, "inactive" in the detail, no field named.
    assert (old.status_code, old.json()) == (
        400,
        refusal("Version 1 is inactive and cannot be executed.", None),
    )
    r = current_client.put(f"endpoints/{two_versions}/?version=1", json={"is_active": True})
    assert r.json()["is_active"] is True and at(current_client, two_versions, 1)["is_active"] is True
    assert current_client.post(f"endpoints/{two_versions}/run/?version=1", json={}).status_code == 200


def test_the_query_of_a_version_cannot_change(current_client, two_versions):
    """::test_update_rejects_query_change_with_version_param (even the same query: no query at all)."""
    for text in ("SELECT 3 AS v", "SELECT 1 AS v"):
        r = current_client.put(f"endpoints/{two_versions}/?version=1", json={"query": hogql(text)})
        assert (r.status_code, r.json()) == (400, refusal(CANNOT_CHANGE_QUERY, "query"))
    assert current_client.get(f"endpoints/{two_versions}/").json()["versions_count"] == 2


def test_an_unknown_version_is_the_400_of_today(current_client, two_versions):
    """::test_update_with_invalid_version_param_returns_error (400 naming 999, not the older 404)."""
    r = current_client.put(f"endpoints/{two_versions}/?version=999", json={"is_materialized": True})
    assert (r.status_code, r.json()) == (400, refusal("Version 999 not found for this endpoint.", "version"))
    r = current_client.patch(f"endpoints/{two_versions}/", json={"version": 999, "query": hogql("SELECT 5")})
    assert r.json()["attr"] == "version"  # an unknown version is named before the query is refused
    r = current_client.patch(f"endpoints/{two_versions}/?version=abc", json={"description": "x"})
    assert (r.status_code, r.json()) == (400, refusal("Must be an integer, got: abc", "version"))


def test_without_a_version_the_update_is_endpoint_wide(current_client, two_versions):
    """::test_endpoint_deactivate: is_active without a version switches the endpoint (every version 404s)."""
    r = current_client.put(f"endpoints/{two_versions}/", json={"is_active": False, "description": "both"})
    assert r.status_code == 200 and "version_id" not in r.json() and r.json()["description"] == "both"
    for path in ("run/", "run/?version=1"):
        assert current_client.post(f"endpoints/{two_versions}/{path}", json={}).status_code == 404
    assert at(current_client, two_versions, 1)["description"] == "first"  # old versions keep theirs


def test_materialization_can_be_switched_for_one_version(current_client, two_versions):
    """::test_update_with_version_param_enables_materialization_on_specific_version"""
    r = current_client.patch(f"endpoints/{two_versions}/?version=1", json={"is_materialized": True})
    assert r.status_code == 200 and "saved_query_id" in r.json()["materialization"]
    assert "saved_query_id" not in current_client.get(f"endpoints/{two_versions}/").json()["materialization"]
    r = current_client.patch(f"endpoints/{two_versions}/?version=1", json={"is_materialized": False})
    assert r.json()["materialization"] == {"can_materialize": True, "reason": None}


def test_the_documented_dialect_keeps_its_version_route(local_client, endpoint_factory):
    """The documented server is unchanged: an unknown version on update stays a 404."""
    name = endpoint_factory("SELECT 1 AS v")
    r = local_client.patch(f"endpoints/{name}/?version=9", json={"is_active": False})
    assert (r.status_code, r.json()) == (404, {"error": "Version 9 not found"})
