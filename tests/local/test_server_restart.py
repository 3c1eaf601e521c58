"""Process life: the ready line, clean stops (exit 0), and state that survives SIGKILL."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import httpx
import pytest

from endpoints_dagster.local.process import LocalServer, LocalServerError

pytestmark = pytest.mark.slow

QUERY = {
    "kind": "HogQLQuery",
    "query": "SELECT count() AS n FROM events WHERE event = {variables.ev}",
    "variables": {"var-ev": {"variableId": "var-ev", "code_name": "ev", "value": "signup"}},
}


def api(server: LocalServer) -> httpx.Client:
    return httpx.Client(base_url=f"{server.url}/api/projects/1/", headers=server.headers, timeout=60)


def test_ready_line_and_sigterm_exit_zero(tmp_path: Path):
    server = LocalServer(tmp_path, events=2_000).start()
    assert len(server.stdout_lines) == 1 and re.fullmatch(
        r"ready http://127\.0\.0\.1:\d+", server.stdout_lines[0]
    )
    port = int(server.url.rsplit(":", 1)[1])
    assert port != 0
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    with api(server) as c:
        c.post("endpoints/top_events/run/", json={"refresh": "force_async", "client_query_id": "in-flight"})
    server.control.set_knobs(latency_seconds=600)
    with api(server) as c:
        c.post("endpoints/daily_signups/run/", json={"refresh": "force_async", "client_query_id": "long"})
    assert server.stop(timeout=30) == 0, "SIGTERM with a query running stops cleanly"
    assert server.stdout_lines == [server.stdout_lines[0]], "nothing but the ready line on stdout"


def test_sigint_exit_zero(tmp_path: Path):
    server = LocalServer(tmp_path, events=2_000).start()
    assert server.process is not None
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(30) == 0
    server.stop()


def test_sigkill_then_restart_keeps_state(tmp_path: Path, wait_until):
    first = LocalServer(tmp_path, events=2_000).start()
    with api(first) as c:
        assert (
            c.post("endpoints/", json={"name": "kept", "query": QUERY, "cache_age_seconds": 3600}).status_code
            == 201
        )
        changed = {
            **QUERY,
            "variables": {"var-ev": {"variableId": "var-ev", "code_name": "ev", "value": "purchase"}},
        }
        assert (
            c.patch("endpoints/kept/", json={"query": changed, "is_materialized": True}).json()[
                "current_version"
            ]
            == 2
        )
        wait_until(lambda: c.get("endpoints/kept/").json()["materialization"]["status"] == "Completed")
        ran = c.post("endpoints/kept/run/", json={"variables_values": {"ev": "$pageview"}}).json()
        before = c.get("endpoints/kept/").json()
        versions = c.get("endpoints/kept/versions/").json()
        demo_versions = {e["name"]: e["current_version"] for e in c.get("endpoints/").json()["results"]}
    first.kill()

    second = LocalServer(tmp_path, events=2_000).start()
    try:
        with api(second) as c:
            after = c.get("endpoints/kept/").json()
            assert {
                k: after[k] for k in ("id", "current_version", "versions_count", "query", "cache_age_seconds")
            } == {
                k: before[k]
                for k in ("id", "current_version", "versions_count", "query", "cache_age_seconds")
            }
            assert c.get("endpoints/kept/versions/").json() == versions
            assert after["materialization"]["status"] == "Completed"
            again = c.post("endpoints/kept/run/", json={"variables_values": {"ev": "$pageview"}}).json()
            assert again["is_cached"] is True and again["cache_key"] == ran["cache_key"]
            assert c.post("endpoints/kept/run/", json={}).json()["endpoint_materialized"] is True
            restarted = {e["name"]: e["current_version"] for e in c.get("endpoints/").json()["results"]}
            assert restarted == demo_versions, "--demo is idempotent: no new versions on restart"
            times = c.post("endpoints/last_execution_times/", json={"names": ["kept"]}).json()[
                "query_status"
            ]["results"]
            assert times and times[0][0] == "kept"
    finally:
        assert second.stop() == 0


def test_failed_start_raises_with_the_log(tmp_path: Path):
    server = LocalServer(tmp_path, events=2_000, extra_args=["--api-key", "bad=endpoint:nope"])
    with pytest.raises(LocalServerError, match="unknown scope"):
        server.start()
