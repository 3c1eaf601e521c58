"""Sensor: one tick over 1,000 watched endpoints against the local server (requests and seconds).

Issue 5: 1,000 watched names must not mean 1,000 requests; the target here is at most 5 HTTP
requests (chunks of 200) and under 0.5 s per tick, counted on the server (``/_local/stats``) and
timed around a whole sensor evaluation (context, resource, client, requests, cursor).
"""

from __future__ import annotations

import logging
import math
import tempfile
import time

import dagster as dg

from bench.common import BenchRow, fmt
from endpoints_dagster.local.process import LocalServer
from endpoints_dagster.resource import PostHogEndpointsResource
from endpoints_dagster.sensors.sensor import DEFAULT_CHUNK_SIZE, build_endpoint_execution_sensor

WATCHED = 1_000
RAN = 50  # endpoints that exist and have run; the other names do not exist (absent, like "never ran")
ROUTE = "POST /api/projects/{project_id}/endpoints/last_execution_times/"
TARGET_REQUESTS = 5
TARGET_SECONDS = 0.5


def _job() -> dg.UnresolvedAssetJobDefinition:
    @dg.asset
    def report() -> None: ...

    return dg.define_asset_job("report_job", selection=[report])


def run() -> list[BenchRow]:
    logging.getLogger("dagster").setLevel(logging.WARNING)  # one INFO line per tick otherwise
    # The daemon evaluates with its instance; without one, build_sensor_context would create (and
    # migrate) an ephemeral SQLite instance per tick, ~0.4 s that is not the sensor's own cost.
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(tmp, demo=False) as server,
        dg.DagsterInstance.ephemeral() as instance,
    ):
        resource = PostHogEndpointsResource(
            host=server.url, project_id=str(server.project_id), personal_api_key=server.api_key
        )
        with resource.get_client() as client:
            ran = [f"bench_endpoint_{i:03d}" for i in range(RAN)]
            for name in ran:
                client.create_endpoint(name, {"kind": "HogQLQuery", "query": "SELECT 1 AS one"})
                client.run_endpoint(name, refresh="force_blocking")
        names = ran + [f"missing_endpoint_{i:04d}" for i in range(WATCHED - RAN)]
        sensor = build_endpoint_execution_sensor(names, job=_job())

        def tick(cursor: str | None) -> tuple[dg.SensorResult, float, int]:
            server.control.reset_stats()
            start = time.perf_counter()
            with dg.build_sensor_context(
                cursor=cursor, resources={"posthog": resource}, instance=instance
            ) as context:
                result = sensor(context)
            seconds = time.perf_counter() - start
            return result, seconds, server.control.request_count(ROUTE)

        baseline, t_baseline, r_baseline = tick(None)
        quiet = [tick(baseline.cursor) for _ in range(5)]
        t_quiet = min(t for _, t, _ in quiet)
        r_quiet = max(r for _, _, r in quiet)
        with resource.get_client() as client:
            for name in ran[:10]:
                client.run_endpoint(name, refresh="force_blocking")
        # Replaying the same cursor finds the same 10 executions each time.
        busy_ticks = [tick(baseline.cursor) for _ in range(3)]
        busy, _, r_busy = busy_ticks[0]
        t_busy = min(t for _, t, _ in busy_ticks)
        assert len(busy.run_requests) == 10 and quiet[0][0].run_requests == []

    chunks = math.ceil(WATCHED / DEFAULT_CHUNK_SIZE)
    common = f"{WATCHED:,} names, chunk_size={DEFAULT_CHUNK_SIZE} ({chunks} chunks), {RAN} of them ran"
    return [
        BenchRow(
            "one tick, 1,000 watched endpoints: last_execution_times requests",
            r_quiet,
            "requests",
            None,
            f"<= {TARGET_REQUESTS}",
            r_quiet <= TARGET_REQUESTS,
            f"counted on the server; {common}",
        ),
        BenchRow(
            "one tick, 1,000 watched endpoints, nothing new: time",
            t_quiet,
            "s",
            None,
            f"< {TARGET_SECONDS} s",
            t_quiet < TARGET_SECONDS,
            "best of 5 whole evaluations (context, resource, client, requests, cursor) with a ready instance; "
            f"{common}",
        ),
        BenchRow(
            "first tick (baseline of 1,000 endpoints): time",
            t_baseline,
            "s",
            None,
            "reference",
            None,
            f"{r_baseline} requests; cursor {len(baseline.cursor or ''):,} bytes of JSON",
        ),
        BenchRow(
            "tick with 10 new executions -> 10 run requests: time",
            t_busy,
            "s",
            None,
            f"< {TARGET_SECONDS} s",
            t_busy < TARGET_SECONDS,
            f"best of 3; {r_busy} requests, {fmt(t_busy * 1000)} ms",
        ),
    ]
