"""``--dialect current`` lists, versions, endpoint bodies and soft delete, over HTTP.

The session's current server pages lists by a small default page size (its ``list_page_size``
knob, read by the ``size`` fixture). The last tests drive the integration's own client
(``api_dialect="auto"``) through the same routes.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from endpoints_dagster import EndpointsClient
from endpoints_dagster.client.errors import EndpointNotFoundError, InvalidRequestError

FRESHNESS = [900, 1800, 3600, 21600, 43200, 86400, 604800]
FRESHNESS_DETAIL = (
    f"Data freshness must be one of: {FRESHNESS} seconds "
    "(15 minutes, 30 minutes, 1 hour, 6 hours, 12 hours, 24 hours, 7 days)."
)


def hogql(query: str) -> dict:
    return {"kind": "HogQLQuery", "query": query}


@pytest.fixture
def size(current_control) -> int:
    """The server's default list page size (knobs were just reset to the command line's)."""
    return int(current_control.knobs()["list_page_size"])


def every_page(client: httpx.Client, path: str, **params) -> tuple[list[dict], list[dict]]:
    """(every item, every page body), following ``next`` exactly as given."""
    pages = [client.get(path, params=params).json()]
    while pages[-1]["next"]:
        pages.append(client.get(pages[-1]["next"]).json())
    return [item for page in pages for item in page["results"]], pages


def test_lists_are_drf_pages_with_absolute_links_that_keep_filters(
    current_server, current_client, current_factory, size
):
    inactive = [current_factory("SELECT 1 AS one", is_active=False) for _ in range(size + 1)]
    items, pages = every_page(current_client, "endpoints/", is_active="false")
    assert {i["name"] for i in items} >= set(inactive) and all(i["is_active"] is False for i in items)
    assert len(pages) >= 2 and all(len(p["results"]) <= size for p in pages)
    assert all(p["count"] == len(items) for p in pages) and len({i["id"] for i in items}) == len(items)
    link = urlsplit(pages[0]["next"])
    assert f"{link.scheme}://{link.netloc}" == current_server.url and link.path.endswith("/endpoints/")
    assert parse_qs(link.query) == {"is_active": ["false"], "limit": [str(size)], "offset": [str(size)]}
    assert pages[0]["previous"] is None and pages[1]["previous"] is not None
    asked = current_client.get("endpoints/", params={"limit": 2, "offset": 1}).json()
    assert len(asked["results"]) == 2 and "offset=3" in asked["next"] and "limit=2" in asked["previous"]


def test_the_default_page_size_is_a_knob(current_client, current_control, size):
    assert size < 10  # the session's server pages in small steps, so clients follow several pages
    current_control.set_knobs(list_page_size=1)
    assert len(current_client.get("endpoints/").json()["results"]) == 1
    current_control.reset_knobs()
    assert len(current_client.get("endpoints/").json()["results"]) == size


def test_endpoints_carry_data_freshness_seconds_not_cache_age_seconds(current_client, current_factory):
    name = current_factory("SELECT 1 AS one", data_freshness_seconds=3600)
    endpoint = current_client.get(f"endpoints/{name}/").json()
    assert endpoint["data_freshness_seconds"] == 3600 and "cache_age_seconds" not in endpoint
    listed = current_client.get("endpoints/", params={"limit": 1000}).json()["results"]
    assert all("data_freshness_seconds" in e and "cache_age_seconds" not in e for e in listed)


@pytest.mark.parametrize("value", [*FRESHNESS, None])
def test_every_allowed_freshness_is_stored(current_client, current_factory, value):
    """null is stored as PostHog's default, 24 h (see test_server_current_fields.py)."""
    name = current_factory("SELECT 1 AS one")
    r = current_client.patch(f"endpoints/{name}/", json={"data_freshness_seconds": value})
    assert r.status_code == 200 and r.json()["data_freshness_seconds"] == (86400 if value is None else value)


@pytest.mark.parametrize("value", [300, 901, 86401, "3600", True])
def test_other_freshness_values_are_refused(current_client, value):
    r = current_client.post(
        "endpoints/", json={"name": "never_made", "query": hogql("SELECT 1"), "data_freshness_seconds": value}
    )
    assert r.status_code == 400
    assert r.json() == {
        "type": "validation_error",
        "code": "invalid_input",
        "detail": FRESHNESS_DETAIL,
        "attr": "data_freshness_seconds",
    }


@pytest.mark.parametrize("field", ["cache_age_seconds", "colour"])
def test_unknown_endpoint_fields_are_refused_on_create_and_update(current_client, current_factory, field):
    r = current_client.post("endpoints/", json={"name": "never_made", "query": hogql("SELECT 1"), field: 600})
    assert (
        r.status_code == 400
        and r.json()["detail"] == "Extra inputs are not permitted"
        and r.json()["attr"] == field
    )
    name = current_factory("SELECT 1 AS one")
    r = current_client.patch(f"endpoints/{name}/", json={field: 600})
    assert r.status_code == 400 and r.json()["attr"] == field


def test_versions_are_pages_of_the_endpoint_at_each_version(current_client, current_factory, size):
    name = current_factory("SELECT 0 AS v")
    for n in range(1, size + 2):
        current_client.patch(f"endpoints/{name}/", json={"query": hogql(f"SELECT {n} AS v")})
    endpoint = current_client.get(f"endpoints/{name}/").json()
    items, pages = every_page(current_client, f"endpoints/{name}/versions/")
    assert len(pages) == 2 and pages[0]["count"] == len(items) == size + 2
    assert [i["version"] for i in items] == list(range(size + 2, 0, -1))  # newest first
    oldest = items[-1]
    assert oldest["id"] == endpoint["id"] and oldest["name"] == name  # the endpoint's id, not the version's
    assert oldest["version_id"] != endpoint["id"] and oldest["query"]["query"] == "SELECT 0 AS v"
    assert oldest["endpoint_is_active"] is True and oldest["is_active"] is True
    assert oldest["version_created_at"] and oldest["version_created_by"]["id"] >= 1
    assert "data_freshness_seconds" in oldest and "cache_age_seconds" not in oldest


def test_one_version_is_read_with_the_version_parameter(current_client, current_factory):
    name = current_factory("SELECT 'a' AS v")
    current_client.patch(f"endpoints/{name}/", json={"query": hogql("SELECT 'b' AS v")})
    one = current_client.get(f"endpoints/{name}/", params={"version": 1}).json()
    assert one["version"] == 1 and one["query"]["query"] == "SELECT 'a' AS v" and one["current_version"] == 2
    missing = current_client.get(f"endpoints/{name}/", params={"version": 5})
    assert (missing.status_code, missing.json()) == (404, {"error": "Version 5 not found"})
    assert current_client.get(f"endpoints/{name}/", params={"version": "x"}).status_code == 400
    gone = current_client.get(f"endpoints/{name}/versions/1/")  # no such route in PostHog today
    assert (gone.status_code, gone.json()) == (
        404,
        {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None},
    )


def test_delete_is_soft_and_frees_the_name_at_once(current_client, current_factory, current_control):
    name = current_factory("SELECT 'old' AS v")
    current_client.patch(f"endpoints/{name}/", json={"query": hogql("SELECT 'older' AS v")})
    current_client.post(f"endpoints/{name}/run/", json={})
    assert current_client.delete(f"endpoints/{name}/").status_code == 204
    for method, path in [("GET", ""), ("POST", "run/"), ("GET", "versions/"), ("PATCH", ""), ("DELETE", "")]:
        r = current_client.request(method, f"endpoints/{name}/{path}", json={} if method != "GET" else None)
        assert r.status_code == 404, (method, path)
    assert name not in {e["name"] for e in every_page(current_client, "endpoints/")[0]}
    times = current_client.post("endpoints/last_execution_times/", json={"names": [name]}).json()
    assert times["query_status"]["results"] == []

    again = current_client.post("endpoints/", json={"name": name, "query": hogql("SELECT 'new' AS v")})
    assert (
        again.status_code == 201
        and again.json()["current_version"] == 1
        and again.json()["versions_count"] == 1
    )
    assert current_client.post(f"endpoints/{name}/run/", json={}).json()["results"] == [["new"]]
    current_client.delete(f"endpoints/{name}/")
    assert current_control.executions(endpoint=name)  # the old executions stay in the log


# -- the integration's client against it ---------------------------------------------------------


@pytest.fixture
def auto_client(current_server):
    with EndpointsClient(current_server.url, current_server.project_id, current_server.api_key) as client:
        yield client


def test_the_client_reads_every_page_and_every_version(
    auto_client, current_client, current_factory, current_control, size
):
    names = {current_factory("SELECT 1 AS one") for _ in range(size + 1)}
    name = sorted(names)[0]
    current_client.patch(f"endpoints/{name}/", json={"query": hogql("SELECT 2 AS two")})
    total = current_client.get("endpoints/").json()["count"]
    current_control.reset_stats()
    listed = {e.name for e in auto_client.list_endpoints()}
    assert names <= listed and len(listed) == total and auto_client.dialect == "current"
    assert current_control.request_count("GET /api/projects/{project_id}/endpoints/") == -(-total // size)
    versions = auto_client.list_versions(name)
    assert [v.version for v in versions] == [2, 1]
    assert auto_client.get_version(name, 1).query["query"] == "SELECT 1 AS one"
    with pytest.raises(EndpointNotFoundError):
        auto_client.get_version(name, 3)


def test_the_client_writes_freshness_and_deletes_softly(auto_client):
    name = f"client_made_{id(auto_client)}"
    made = auto_client.create_endpoint(name, "SELECT 1 AS one", cache_age_seconds=1800)
    assert made.cache_age_seconds == 1800 and made.raw["data_freshness_seconds"] == 1800
    with pytest.raises(InvalidRequestError, match="900"):  # refused before sending, naming the allowed values
        auto_client.update_endpoint(name, cache_age_seconds=1000)
    auto_client.delete_endpoint(name)
    with pytest.raises(EndpointNotFoundError):
        auto_client.get_endpoint(name)
    remade = auto_client.create_endpoint(name, "SELECT 2 AS two")
    assert remade.current_version == 1
    auto_client.delete_endpoint(name)
