"""Keys, scopes, project isolation, rate limit, fault injection and malformed input, over HTTP.

This module starts its own server with several keys: ``phx_admin`` (both scopes, project 1),
``phx_ro`` (read only), ``phx_wo`` (write only), ``phx_p2`` (project 2 only).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from endpoints_dagster.local.process import LocalServer

KEYS = ("phx_admin", "phx_ro", "phx_wo", "phx_p2")
QUERY = {"kind": "HogQLQuery", "query": "SELECT count() AS n FROM events"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    extra = [
        "--api-key",
        "phx_ro=endpoint:read",
        "--api-key",
        "phx_wo=endpoint:write",
        "--api-key",
        "phx_p2@2",
    ]
    with LocalServer(
        tmp_path_factory.mktemp("auth"), api_key="phx_admin", events=2_000, extra_args=extra
    ) as s:
        yield s


def client(server: LocalServer, key: str | None, project: int = 1) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=f"{server.url}/api/projects/{project}/", headers=headers, timeout=30)


@pytest.fixture
def admin(server: LocalServer) -> Iterator[httpx.Client]:
    server.control.reset()
    with client(server, "phx_admin") as c:
        yield c
    server.control.reset()


def test_missing_and_bad_credentials_are_401(server: LocalServer):
    with client(server, None) as c:
        r = c.get("endpoints/")
        assert (
            r.status_code == 401
            and r.json()["code"] == "not_authenticated"
            and r.json()["type"] == "authentication_error"
        )
    with client(server, "phx_wrong") as c:
        r = c.get("endpoints/")
        assert r.status_code == 401 and r.json()["code"] == "authentication_failed"
        assert "phx_wrong" not in r.text
    with httpx.Client(base_url=server.url, headers={"Authorization": "Basic cGh4X2FkbWlu"}) as c:
        assert c.get("/api/projects/1/endpoints/").status_code == 401
    with httpx.Client(base_url=server.url) as c:
        assert c.get("/_local/stats").status_code == 401


def test_scopes(server: LocalServer, admin: httpx.Client):
    assert admin.post("endpoints/", json={"name": "scoped", "query": QUERY}).status_code == 201
    with client(server, "phx_ro") as ro:
        assert ro.get("endpoints/").status_code == 200
        assert ro.post("endpoints/scoped/run/", json={}).status_code == 200
        assert ro.post("endpoints/last_execution_times/", json={"names": ["scoped"]}).status_code == 200
        for method, path, body in [
            ("POST", "endpoints/", {"name": "x", "query": QUERY}),
            ("PATCH", "endpoints/scoped/", {"description": "x"}),
            ("PUT", "endpoints/scoped/", {"description": "x"}),
            ("DELETE", "endpoints/scoped/", None),
        ]:
            r = ro.request(method, path, json=body)
            assert r.status_code == 403, (method, path)
            assert r.json() == {
                "type": "authentication_error",
                "code": "permission_denied",
                "detail": "API key missing required scope 'endpoint:write'",
                "attr": None,
            }
    with client(server, "phx_wo") as wo:  # write implies read, as in PostHog
        assert wo.get("endpoints/scoped/").status_code == 200
        assert wo.patch("endpoints/scoped/", json={"description": "by wo"}).status_code == 200


def test_project_isolation(server: LocalServer, admin: httpx.Client):
    with client(server, "phx_p2", project=2) as p2:
        assert p2.post("endpoints/", json={"name": "secret", "query": QUERY}).status_code == 201
        p2.post("endpoints/secret/run/", json={"refresh": "force_async", "client_query_id": "p2-query"})
    with client(server, "phx_admin", project=2) as admin_on_p2:
        for path in ("endpoints/", "endpoints/secret/", "endpoints/secret/run/", "query/p2-query/"):
            r = admin_on_p2.get(path)
            assert r.status_code == 403 and r.json()["code"] == "permission_denied", path
            assert "does not have access to the requested project" in r.json()["detail"]
    assert "secret" not in {e["name"] for e in admin.get("endpoints/").json()["results"]}
    assert admin.get("endpoints/secret/").status_code == 404
    assert admin.get("query/p2-query/").status_code == 404
    with client(server, "phx_p2", project=1) as p2_on_p1:
        assert p2_on_p1.get("endpoints/").status_code == 403
    with client(server, "phx_admin", project=99) as unknown:
        assert unknown.get("endpoints/").status_code == 404


def test_rate_limit_per_key(server: LocalServer, admin: httpx.Client):
    server.control.set_knobs(rate_limit_per_minute=3)
    codes = [admin.get("endpoints/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = admin.get("endpoints/")
    assert r.json()["type"] == "throttled_error" and r.json()["code"] == "throttled"
    seconds = int(r.json()["detail"].removeprefix("Request was throttled. Expected available in ").split()[0])
    assert 1 <= seconds <= 60 and "retry-after" not in r.headers
    with client(server, "phx_ro") as ro:
        assert ro.get("endpoints/").status_code == 200
    assert server.control.stats()["requests"]["GET /api/projects/{project_id}/endpoints/"] == 6


@pytest.mark.parametrize("kind,status,code", [("503", 503, "query_capacity"), ("429", 429, "throttled")])
def test_fault_injection_status_kinds(
    server: LocalServer, admin: httpx.Client, kind: str, status: int, code: str
):
    server.control.set_knobs(fault_rate=1.0, fault_kinds=[kind])
    r = admin.get("endpoints/")
    assert r.status_code == status and r.json()["code"] == code
    assert server.control.stats()["requests"]["GET /api/projects/{project_id}/endpoints/"] == 1


def test_fault_injection_drops_connections_and_filters_paths(server: LocalServer, admin: httpx.Client):
    server.control.set_knobs(fault_rate=1.0, fault_kinds=["drop"], fault_paths=["/run"])
    assert admin.get("endpoints/").status_code == 200
    with pytest.raises(httpx.TransportError):
        admin.post("endpoints/scoped/run/", json={})
    assert admin.get("endpoints/").status_code == 200, "the server survives a dropped connection"
    server.control.set_knobs(fault_rate=0.5, fault_kinds=["503"], fault_paths=[])
    codes = [admin.get("endpoints/").status_code for _ in range(60)]
    assert 10 < codes.count(503) < 50 and codes.count(200) + codes.count(503) == 60


@pytest.mark.parametrize(
    "content,headers,status",
    [
        (b"{not json", {"content-type": "application/json"}, 400),
        (b'{"name": "x", "query": ', {"content-type": "application/json"}, 400),
        (b"\xff\xfe\x00{", {"content-type": "application/json"}, 400),
        (b'"just a string"', {"content-type": "application/json"}, 400),
        (b"[1, 2]", {"content-type": "application/json"}, 400),
        (b"42", {"content-type": "application/json"}, 400),
        (b"[" * 5000 + b"]" * 5000, {"content-type": "application/json"}, 400),
        (b"name=x", {"content-type": "application/x-www-form-urlencoded"}, 415),
        (b'{"name": "x"}', {"content-type": "text/plain"}, 415),
        (b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}', {"content-type": "application/json"}, 413),
    ],
)
def test_malformed_bodies_are_4xx(
    server: LocalServer, admin: httpx.Client, content: bytes, headers: dict, status: int
):
    for path in ("endpoints/", "endpoints/scoped/run/", "endpoints/last_execution_times/"):
        r = admin.post(path, content=content, headers=headers)
        assert r.status_code == status, (path, r.text[:200])
        assert r.json()["type"] in ("validation_error", "invalid_request")
    assert admin.get("endpoints/").status_code == 200


@pytest.mark.parametrize(
    "body,attr",
    [
        ({"name": 5, "query": QUERY}, "name"),
        ({"name": "typed", "query": "SELECT 1"}, "query"),
        ({"name": "typed", "query": {"kind": "HogQLQuery", "query": 7}}, "query"),
        ({"name": "typed", "query": QUERY, "cache_age_seconds": "600"}, "cache_age_seconds"),
        ({"name": "typed", "query": QUERY, "is_active": "yes"}, "is_active"),
        ({"name": "typed", "query": QUERY, "description": ["x"]}, "description"),
        (
            {
                "name": "typed",
                "query": {**QUERY, "variables": {"v": {"code_name": "a", "value": {"nested": 1}}}},
            },
            "query",
        ),
    ],
)
def test_wrong_field_types_on_create(admin: httpx.Client, body: dict, attr: str):
    r = admin.post("endpoints/", json=body)
    assert r.status_code == 400 and r.json()["attr"] == attr


@pytest.mark.parametrize(
    "body,attr",
    [
        ({"refresh": 3}, "refresh"),
        ({"variables_values": ["a"]}, "variables_values"),
        ({"limit": -1}, "limit"),
        ({"limit": True}, "limit"),
        ({"filters_override": {"properties": "x"}}, "filters_override"),
        ({"client_query_id": ""}, "client_query_id"),
        ({"variables_override": []}, "variables_override"),
    ],
)
def test_wrong_field_types_on_run(admin: httpx.Client, body: dict, attr: str):
    r = admin.post("endpoints/scoped/run/", json=body)
    assert r.status_code == 400 and r.json()["attr"] == attr


def test_no_key_in_the_log(server: LocalServer, admin: httpx.Client):
    admin.get("endpoints/")
    log = Path(server.log_path).read_text()
    assert "access:" in log
    for key in KEYS:
        assert key not in log
    assert key_free(repr(server)) and key_free(repr(server.control))


def key_free(text: str) -> bool:
    return not any(k in text for k in KEYS)
