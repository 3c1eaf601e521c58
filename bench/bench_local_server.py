"""Local server: requests per second for a cached run, and a run's overhead over the bare engine query.

Issue 8, benchmark 6. The server runs as in tests (a subprocess, one uvicorn worker, access log off)
over 100,000 generated events (seed 7). Two figures:

- **Cached run throughput**: ``GET {name}/run/`` answered from the result cache (auth, endpoint and
  version lookup, cache read, JSON), by one keep-alive client and by 4 concurrent ones, for a fixed
  time each. Baseline in the same run: ``GET /_local/knobs`` on the same server (routing, the key
  check and a small JSON answer: the floor of any authenticated route).
- **Run overhead**: median wall time of ``POST {name}/run/`` with ``refresh: force_blocking`` (HTTP,
  parsing, validation, the worker pool, the execution log, the cache write, JSON) minus the median of
  the same HogQL through ``endpoints_dagster.local.engine.clickhouse.Engine.run`` in this process, on its own data
  directory built with the same seed and size (HogQL translation, chDB, result parsing).

The issue sets no number for these; the targets below are ours: a cached run should cost at most
twice the floor route (>= 50% of its requests per second), and the server should add at most 10 ms
to a computed run.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.common import BenchRow, fmt
from endpoints_dagster.local.engine.clickhouse import Engine
from endpoints_dagster.local.process import LocalServer

EVENTS, SEED = 100_000, 7
SECONDS = 3.0
CLIENTS = 4
RUNS = 30
NAME = "events_since"
HOGQL = (
    "SELECT event, count() AS n, uniq(distinct_id) AS users FROM events "
    "WHERE timestamp >= {variables.since} GROUP BY event ORDER BY n DESC"
)
SINCE = "2020-01-01"


def throughput(url: str, headers: dict[str, str], path: str, clients: int) -> float:
    """Requests per second over ``SECONDS``, each client in its own thread with a keep-alive connection."""
    counts = [0] * clients
    stop = threading.Event()

    def work(index: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            client.get(path).raise_for_status()  # connect and warm up outside the timed window
            barrier.wait()
            while not stop.is_set():
                client.get(path).raise_for_status()
                counts[index] += 1

    barrier = threading.Barrier(clients + 1)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    time.sleep(SECONDS)
    stop.set()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def run_overhead(
    url: str, headers: dict[str, str], engine: Engine
) -> tuple[list[float], list[float], list[list]]:
    """Computed runs over HTTP and the same query on the in-process engine, interleaved (same machine load)."""
    body = {"refresh": "force_blocking", "variables_values": {"since": SINCE}}
    http, bare = [], []
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        client.post(f"{NAME}/run/", json=body).raise_for_status()  # warm up both
        rows = engine.run(HOGQL, variables={"since": SINCE}).rows
        for _ in range(RUNS):
            started = time.perf_counter()
            response = client.post(f"{NAME}/run/", json=body)
            http.append(time.perf_counter() - started)
            response.raise_for_status()
            started = time.perf_counter()
            engine.run(HOGQL, variables={"since": SINCE})
            bare.append(time.perf_counter() - started)
    return http, bare, rows


def run() -> list[BenchRow]:
    with tempfile.TemporaryDirectory() as tmp:
        server_dir, engine_dir = Path(tmp) / "server", Path(tmp) / "engine"
        with LocalServer(
            server_dir, demo=False, events=EVENTS, seed=SEED, extra_args=["--no-access-log"]
        ) as server:
            api = f"{server.url}/api/projects/{server.project_id}/endpoints/"
            query = {
                "kind": "HogQLQuery",
                "query": HOGQL,
                "variables": {"v": {"variableId": "v", "code_name": "since", "value": SINCE}},
            }
            with httpx.Client(base_url=api, headers=server.headers, timeout=60) as client:
                client.post("", json={"name": NAME, "query": query}).raise_for_status()
                served = client.get(f"{NAME}/run/").json()["results"]  # computes once, then cached
            rps = {n: throughput(api, server.headers, f"{NAME}/run/", n) for n in (1, CLIENTS)}
            admin = {"Authorization": f"Bearer {server.admin_token}"}  # /_local/ takes the admin token
            floor = {n: throughput(server.url, admin, "/_local/knobs", n) for n in (1, CLIENTS)}
            with Engine(engine_dir, events=EVENTS, seed=SEED) as engine:
                http, bare, rows = run_overhead(api, server.headers, engine)
    assert rows == served, "the engine in this process and the server disagree on the same data"
    overhead = statistics.median(http) - statistics.median(bare)
    return [
        BenchRow(
            "cached run (GET run/ from the result cache), 1 client",
            rps[1],
            "req/s",
            floor[1],
            ">= 50% of baseline (GET /_local/knobs, the floor route)",
            rps[1] >= 0.5 * floor[1],
            f"{rps[1] / floor[1]:.0%} of the floor; {fmt(1000 / rps[1])} ms per request; keep-alive, {fmt(SECONDS)} s",
        ),
        BenchRow(
            f"cached run, {CLIENTS} concurrent clients",
            rps[CLIENTS],
            "req/s",
            floor[CLIENTS],
            ">= 50% of baseline (the floor route, same clients)",
            rps[CLIENTS] >= 0.5 * floor[CLIENTS],
            f"{rps[CLIENTS] / floor[CLIENTS]:.0%} of the floor; one uvicorn process: the clients share its core "
            "with this process's client threads on a 2-core machine",
        ),
        BenchRow(
            "computed run (POST run/ force_blocking): median overhead over the bare engine query",
            overhead * 1000,
            "ms",
            statistics.median(bare) * 1000,
            "<= 10 ms over baseline (Engine.run in-process)",
            overhead <= 0.010,
            f"run median {fmt(statistics.median(http) * 1000)} ms vs Engine.run median "
            f"{fmt(statistics.median(bare) * 1000)} ms ({RUNS} runs each, interleaved; {EVENTS:,} events, "
            f"{len(rows)} rows); the server's part: HTTP, validation, worker pool, execution log and cache "
            "writes (SQLite), JSON; the HTTP client's time is included",
        ),
    ]
