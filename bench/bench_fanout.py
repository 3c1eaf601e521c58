"""Fan-out: 32 endpoints taking 1 s each on the server, materialized in one Dagster run.

Issue 8, benchmark 2: ``dg.materialize(build_endpoint_assets(names, max_concurrency=32))`` against
the local server (started with ``--workers 32`` so its query pool can run all 32 at once; each
endpoint gets 1 s of latency). The figure is the materialization step's duration (``STEP_START`` to
``STEP_SUCCESS`` in the run's event log); target under 3 s. Baseline in the same run: the same
assets with ``max_concurrency=1`` (sequential, about 32 s), measured for real. The server's cache is
cleared before each run so every endpoint computes.
"""

from __future__ import annotations

import logging
import tempfile
import time

import dagster as dg

from bench.common import BenchRow, fmt
from endpoints_dagster import PostHogEndpointsResource, build_endpoint_assets
from endpoints_dagster.local.process import LocalServer, ServerControl

ENDPOINTS = 32
SECONDS = 1.0
TARGET = 3.0
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
QUERY = "SELECT event, count() AS n FROM events GROUP BY event ORDER BY n DESC"


def materialize(
    names: list[str], resource: PostHogEndpointsResource, control: ServerControl, concurrency: int
):
    """One run: (step seconds, whole materialize() seconds, most queries running at once on the server)."""
    control.clear_cache()
    control.reset_stats()
    assets = build_endpoint_assets(
        names, max_concurrency=concurrency, schema_checks=False, name=f"fanout_{concurrency}"
    )
    started = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(assets, resources={"posthog": resource}, instance=instance, run_config=QUIET)
        wall = time.perf_counter() - started
        assert result.success
        events = {e.event_type_value: e for e in result.all_events if e.step_key}
        step = events["STEP_SUCCESS"].event_specific_data.duration_ms / 1000  # type: ignore[union-attr]
        landed = len(result.asset_materializations_for_node(f"fanout_{concurrency}"))
    assert landed == len(names), f"{landed} of {len(names)} assets materialized"
    stats = control.stats()
    assert sum(1 for e in stats["executions"] if e["status"] == "completed") == len(names)
    return step, wall, stats["max_concurrent_executions"]


def run() -> list[BenchRow]:
    logging.getLogger("dagster").setLevel(logging.WARNING)
    # One project here: let it hold every worker (the server keeps half for other projects by default).
    extra = ["--workers", str(ENDPOINTS), "--max-running-per-project", str(ENDPOINTS)]
    extra += ["--max-queries-per-project", str(2 * ENDPOINTS), "--no-access-log"]
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(tmp, demo=False, events=20_000, extra_args=extra) as server,
    ):
        resource = PostHogEndpointsResource(
            host=server.url, project_id=str(server.project_id), personal_api_key=server.api_key
        )
        names = [f"fanout_{i:02d}" for i in range(ENDPOINTS)]
        with resource.get_client() as client:
            for name in names:
                client.create_endpoint(name, QUERY)
        server.control.set_knobs(latency_by_endpoint={name: SECONDS for name in names})
        step, wall, peak = materialize(names, resource, server.control, ENDPOINTS)
        step_seq, wall_seq, peak_seq = materialize(names, resource, server.control, 1)
    return [
        BenchRow(
            f"{ENDPOINTS} endpoints x {fmt(SECONDS)} s, one run, max_concurrency={ENDPOINTS}: materialization step",
            step,
            "s",
            step_seq,
            f"< {fmt(TARGET)} s",
            step < TARGET,
            f"{step_seq / step:.1f}x faster than the sequential baseline (max_concurrency=1, measured); "
            f"{peak} queries ran at once on the server (baseline: {peak_seq}); whole dg.materialize(): "
            f"{fmt(wall)} s (baseline {fmt(wall_seq)} s), Dagster's own run setup included",
        ),
    ]
