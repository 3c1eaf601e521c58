"""Control routes: ``/_local/*`` opens with the admin token only; every knob is range-checked.

The attacks found: any valid key (a read-only one too) could change knobs, turn on 100 % faults,
clear every cache and read every project's executions; an absurd latency stalled runs; an
out-of-range knob was stored and then broke the knobs route.
"""

from __future__ import annotations

import httpx
import pytest
from attack_helpers import ATTACKER, OWNER_ONE, READER

pytestmark = pytest.mark.integration

ROUTES = [
    ("GET", "/_local/knobs", None),
    ("POST", "/_local/knobs", {"fault_rate": 1.0}),
    ("POST", "/_local/knobs/reset", None),
    ("GET", "/_local/stats", None),
    ("POST", "/_local/stats/reset", None),
    ("GET", "/_local/executions", None),
    ("POST", "/_local/cache/clear", None),
    ("GET", "/_local/materialized_tables", None),
]


def call(server, method: str, path: str, body, token: str | None, scheme: str = "Bearer") -> httpx.Response:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return httpx.request(method, f"{server.url}{path}", json=body, headers=headers, timeout=30)


@pytest.mark.parametrize("method, path, body", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_control_routes_refuse_every_api_key(method, path, body, attack_server):
    before = attack_server.control.knobs()
    for key in (OWNER_ONE, ATTACKER, READER):
        r = call(attack_server, method, path, body, key)
        assert r.status_code == 403 and r.json()["type"] == "authentication_error", r.text
        assert key not in r.text
    for token in (
        None,
        "wrong-token-0123456789",
        attack_server.admin_token[:-1],
        attack_server.admin_token + "x",
    ):
        r = call(attack_server, method, path, body, token)
        assert r.status_code == 401, (token, r.text)
    r = call(attack_server, method, path, body, attack_server.admin_token, scheme="Basic")
    assert r.status_code == 401
    odd = {"Authorization": b"Bearer caf\xe9-\xff-token-0123456789"}  # not ASCII: still a plain 401
    r = httpx.request(method, f"{attack_server.url}{path}", json=body, headers=odd, timeout=30)
    assert r.status_code == 401
    r = httpx.get(f"{attack_server.url}/api/projects/2/endpoints/", headers=odd, timeout=30)
    assert r.status_code == 401
    assert attack_server.control.knobs() == before


def test_the_admin_token_opens_them(attack_server):
    for method, path, _ in ROUTES:
        body = {} if path == "/_local/knobs" and method == "POST" else None
        assert call(attack_server, method, path, body, attack_server.admin_token).status_code == 200, path


BAD_KNOBS = [
    {"latency_seconds": 1e12},
    {"latency_seconds": -1},
    {"latency_seconds": "5"},
    {"latency_seconds": True},
    {"latency_by_endpoint": {"x": 1e9}},
    {"latency_by_endpoint": {f"e{i}": 1 for i in range(2000)}},
    {"latency_by_endpoint": []},
    {"fault_rate": 1.5},
    {"fault_rate": -0.1},
    {"fault_kinds": ["500"]},
    {"fault_kinds": []},
    {"fault_paths": ["x" * 1000]},
    {"rate_limit_per_minute": 0},
    {"rate_limit_per_minute": 10**30},
    {"clock_offset_seconds": 1e300},
    {"clock_offset_seconds": -1e300},
    {"last_execution_granularity_seconds": 1e300},
    {"list_page_size": 0},
    {"list_page_size": 10**9},
    {"no_such_knob": 1},
    {"latency_seconds": 1, "fault_rate": 2},  # one bad value: nothing of the body applies
]


@pytest.mark.parametrize("body", BAD_KNOBS, ids=[str(b)[:40] for b in BAD_KNOBS])
def test_a_bad_knob_is_a_400_that_changes_nothing(body, attack_server):
    before = attack_server.control.knobs()
    r = call(attack_server, "POST", "/_local/knobs", body, attack_server.admin_token)
    assert r.status_code == 400 and r.json()["type"] == "validation_error", r.text
    assert attack_server.control.knobs() == before
    assert call(attack_server, "GET", "/_local/knobs", None, attack_server.admin_token).status_code == 200


@pytest.mark.parametrize("body", ["[]", "null", "1", '"x"', "{", '{"latency_seconds": 1e999}'])
def test_a_malformed_knobs_body_is_a_400(body, attack_server):
    r = httpx.post(
        f"{attack_server.url}/_local/knobs",
        content=body,
        headers={"Authorization": f"Bearer {attack_server.admin_token}", "Content-Type": "application/json"},
    )
    assert r.status_code == 400, r.text


def test_without_a_configured_token_one_is_made_printed_once_and_kept_private(tmp_path):
    import stat

    from endpoints_dagster.local.process import LocalServer

    server = LocalServer(tmp_path, demo=False, events=500, env={"ENDPOINTS_LOCAL_ADMIN_TOKEN": ""})
    with server:
        saved = tmp_path / "admin_token"
        token = saved.read_text().strip()
        assert len(token) >= 32 and stat.S_IMODE(saved.stat().st_mode) & 0o077 == 0
        assert token in server.log_path.read_text()
        r = httpx.get(f"{server.url}/_local/knobs", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        r = httpx.get(f"{server.url}/_local/knobs", headers={"Authorization": f"Bearer {server.admin_token}"})
        assert r.status_code == 401  # the token LocalServer offered was empty, so not this one
