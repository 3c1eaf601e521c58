"""Resource exhaustion: per-query time, memory and row limits, a per-project cap, fair workers.

The attacks found: no per-query limit, and one project's 4 runaway queries kept another
project's small blocking run waiting past 15 s. A server of its own runs with a 2 s time limit,
a 64 MiB memory limit and at most 3 queries queued or running per project (4 workers; one
project holds at most 2 of them). Runaway queries stop at their limit with PostHog's answer
(504 for time, 513 for memory, 400 for rows), the 4th concurrent query of a project is a 429, and
another project's small query still runs at once (the measured wait is printed with ``-s``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from attack_helpers import ATTACKER, OWNER_ONE, api, endpoint_body

from endpoints_dagster.local.process import LocalServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RUNAWAY = "SELECT count() AS n FROM numbers(100000000000) WHERE number % 7 = 3"
GREEDY = "SELECT length(groupArray(number)) AS n FROM numbers(200000000)"
LIMITS = [
    "--max-execution-time",
    "2",
    "--max-memory-usage",
    str(64 * 1024**2),
    "--max-queries-per-project",
    "3",
]


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = LocalServer(
        tmp_path_factory.mktemp("limits"),
        api_key=OWNER_ONE,
        demo=False,
        events=2_000,
        extra_args=["--no-access-log", "--workers", "4", *LIMITS],
        env={"ENDPOINTS_LOCAL_API_KEYS": f"{OWNER_ONE} {ATTACKER}@2"},
    )
    with server:
        yield server


def make(client: httpx.Client, sql: str) -> str:
    body = endpoint_body(sql)
    assert client.post("endpoints/", json=body).status_code == 201
    return body["name"]


def test_a_runaway_query_stops_at_the_time_limit_with_posthogs_error(limited):
    with api(limited, ATTACKER, 2) as attacker:
        name = make(attacker, RUNAWAY)
        r = attacker.post(f"endpoints/{name}/run/", json={"refresh": "force_blocking"})
        assert r.status_code == 504, r.text
        assert r.json()["detail"].startswith("Query has hit the max execution time before completing.")
        qid = uuid.uuid4().hex
        assert (
            attacker.post(
                f"endpoints/{name}/run/", json={"refresh": "force_async", "client_query_id": qid}
            ).status_code
            == 202
        )
        deadline = time.monotonic() + 60
        status = attacker.get(f"query/{qid}/")
        while status.status_code == 202 and time.monotonic() < deadline:
            time.sleep(0.1)
            status = attacker.get(f"query/{qid}/")
        assert status.status_code == 400
        assert status.json()["query_status"]["error_message"].startswith(
            "Query has hit the max execution time"
        )


def test_a_greedy_query_stops_at_the_memory_limit(limited):
    with api(limited, ATTACKER, 2) as attacker:
        name = make(attacker, GREEDY)
        r = attacker.post(f"endpoints/{name}/run/", json={"refresh": "force_blocking"})
        assert r.status_code == 513 and r.json()["code"] == "clickhouse_memory_limit_exceeded", r.text


def test_a_materialization_is_bounded_too(limited):
    with api(limited, ATTACKER, 2) as attacker:
        body = endpoint_body(RUNAWAY, is_materialized=True)
        assert attacker.post("endpoints/", json=body).status_code == 201
        deadline = time.monotonic() + 60
        mat = attacker.get(f"endpoints/{body['name']}/").json()["materialization"]
        while mat.get("status") == "Running" and time.monotonic() < deadline:
            time.sleep(0.1)
            mat = attacker.get(f"endpoints/{body['name']}/").json()["materialization"]
        assert mat["status"] == "Failed" and "max execution time" in mat["error"]


def test_the_fourth_concurrent_query_is_429_and_other_projects_run_at_once(limited):
    with api(limited, ATTACKER, 2) as attacker, api(limited, OWNER_ONE, 1) as owner:
        runaway = make(attacker, RUNAWAY)
        small = make(owner, "SELECT event, count() AS n FROM events GROUP BY event ORDER BY n DESC")
        assert owner.post(f"endpoints/{small}/run/", json={}).status_code == 200  # warm
        ids = [uuid.uuid4().hex for _ in range(3)]
        for qid in ids:
            r = attacker.post(
                f"endpoints/{runaway}/run/", json={"refresh": "force_async", "client_query_id": qid}
            )
            assert r.status_code == 202, r.text
        r = attacker.post(f"endpoints/{runaway}/run/", json={"refresh": "force_async"})
        assert r.status_code == 429 and r.json()["type"] == "throttled_error", r.text
        assert r.json()["detail"].startswith("Request was throttled. Expected available in ")
        started = time.monotonic()
        r = owner.post(f"endpoints/{small}/run/", json={"refresh": "force_blocking"})
        waited = time.monotonic() - started
        print(f"\nproject 1's small blocking run under project 2's 3 runaway queries: {waited:.2f} s")
        assert r.status_code == 200
        assert waited < 10, f"a small query of another project waited {waited:.1f} s"
        for qid in ids:
            attacker.delete(f"query/{qid}/")


@pytest.fixture(scope="module")
def row_limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = LocalServer(
        tmp_path_factory.mktemp("rows"),
        api_key=OWNER_ONE,
        demo=False,
        events=2_000,
        extra_args=["--no-access-log", "--max-rows-to-read", "1000"],
    )
    with server:
        yield server


def test_reading_more_rows_than_allowed_is_a_400(row_limited):
    with api(row_limited, OWNER_ONE, 1) as owner:
        name = make(owner, "SELECT count() AS n FROM events WHERE event != ''")
        r = owner.post(f"endpoints/{name}/run/", json={})
        assert r.status_code == 400 and r.json()["code"] == "too_many_rows", r.text
