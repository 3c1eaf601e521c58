"""Component load: a code location whose saved state holds 500 endpoints, against an empty one, and its HTTP requests.

Issue 6, "Benchmark": load time of a code location whose state holds 500 endpoints, beside an
empty one, and the number of HTTP requests during load (must be 0).

Setup: a local PostHog Endpoints server holding 500 endpoints (400 plain, 100 `daily_*` with
`since`/`until` variables); `PostHogEndpointsComponent` in a Dagster defs-folder sandbox with a
glob override that gives the `daily_*` endpoints daily partitions. The state is refreshed once
from the server (one list request); then the location is loaded repeatedly: component tree ->
`Definitions` -> `Definitions.validate_loadable` (the repository a code server builds). The
baseline is the same component whose saved state is an empty project, loaded in turn with it.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import warnings
from pathlib import Path

import dagster as dg
import httpx
from dagster.components.testing import create_defs_folder_sandbox

from bench.common import BenchRow, fmt, timeit_interleaved
from endpoints_dagster.components import EndpointSkippedWarning, PostHogEndpointsComponent
from endpoints_dagster.local.process import LocalServer

ENDPOINTS = 500
DAILY = 100
TYPE = "endpoints_dagster.components.PostHogEndpointsComponent"
PLAIN_SQL = (
    "SELECT event, count() AS n FROM events WHERE event != {variables.skip} GROUP BY event ORDER BY n DESC"
)
DAILY_SQL = (
    "SELECT toDate(timestamp) AS day, count() AS n FROM events WHERE timestamp >= {variables.since} "
    "AND timestamp < {variables.until} GROUP BY day ORDER BY day"
)


def _variables(**values: str) -> dict:
    return {f"var-{k}": {"variableId": f"var-{k}", "code_name": k, "value": v} for k, v in values.items()}


def create_endpoints(server: LocalServer) -> None:
    with httpx.Client(
        base_url=f"{server.url}/api/projects/{server.project_id}/", headers=server.headers, timeout=60
    ) as c:
        for i in range(ENDPOINTS - DAILY):
            query = {"kind": "HogQLQuery", "query": PLAIN_SQL, "variables": _variables(skip="$pageview")}
            body = {"name": f"report_{i:03d}", "description": f"Report {i}: events by count.", "query": query}
            c.post("endpoints/", json=body).raise_for_status()
        for i in range(DAILY):
            query = {
                "kind": "HogQLQuery",
                "query": DAILY_SQL,
                "variables": _variables(since="2026-01-01", until="2026-02-01"),
            }
            c.post("endpoints/", json={"name": f"daily_{i:03d}", "query": query}).raise_for_status()


def attributes(project_id: str) -> dict:
    return {
        "type": TYPE,
        "attributes": {
            "connection": {
                "host": "{{ env.BENCH_POSTHOG_HOST }}",
                "project_id": project_id,
                "personal_api_key": "{{ env.BENCH_POSTHOG_KEY }}",
            },
            "selection": {"include_inactive": True},
            "endpoints": {
                "daily_*": {
                    "partitions": {"type": "daily", "start_date": "2026-01-01"},
                    "variables": {"since": "{{ partition.start }}", "until": "{{ partition.end }}"},
                }
            },
        },
    }


def load_location(sandbox, defs_path: Path) -> int:
    """Load the location as a code server would; return its number of assets."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Dagster's beta notices about code references, per load
        with sandbox.build_component_tree() as tree:
            defs = tree.build_defs()
            dg.Definitions.validate_loadable(defs)
            return len(defs.resolve_asset_graph().get_all_asset_keys())


def api_requests(server: LocalServer) -> int:
    return sum(n for route, n in server.control.stats()["requests"].items() if " /_local" not in route)


def run() -> list[BenchRow]:
    import os

    with tempfile.TemporaryDirectory() as tmp:
        server = LocalServer(Path(tmp) / "posthog", demo=False, events=1_000)
        server.start()
        try:
            os.environ["BENCH_POSTHOG_HOST"] = server.url
            os.environ["BENCH_POSTHOG_KEY"] = server.api_key
            create_endpoints(server)
            with create_defs_folder_sandbox() as full, create_defs_folder_sandbox() as empty:
                full_path = full.scaffold_component(
                    PostHogEndpointsComponent, defs_yaml_contents=attributes("1")
                )
                empty_path = empty.scaffold_component(
                    PostHogEndpointsComponent, defs_yaml_contents=attributes("1")
                )

                server.control.reset_stats()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", EndpointSkippedWarning)
                    with full.load_component_and_build_defs(defs_path=full_path) as (component, _):
                        start = time.perf_counter()
                        asyncio.run(component.refresh_state(full.project_root))
                        refresh_seconds = time.perf_counter() - start
                refresh_requests = api_requests(server)

                # The empty project's state: the same file format, no endpoints.
                state_file = next(full.project_root.rglob(".local_defs_state/*/state"))
                saved = json.loads(state_file.read_text())
                empty_state = empty.defs_folder_path / ".local_defs_state" / state_file.parent.name / "state"
                empty_state.parent.mkdir(parents=True, exist_ok=True)
                empty_state.write_text(json.dumps({**saved, "endpoints": []}))

                server.control.reset_stats()
                counts: dict[str, int] = {}
                full_s, empty_s = timeit_interleaved(
                    lambda: counts.__setitem__("full", load_location(full, full_path)),
                    lambda: counts.__setitem__("empty", load_location(empty, empty_path)),
                    repeat=5,
                )
                load_requests = api_requests(server)
                size_kb = state_file.stat().st_size / 1e3
        finally:
            server.stop()

    per_endpoint_ms = (full_s - empty_s) / ENDPOINTS * 1e3
    return [
        BenchRow(
            f"load a location, state of {ENDPOINTS} endpoints ({counts['full']} assets)",
            full_s * 1e3,
            "ms",
            empty_s * 1e3,
            "informational (baseline: same component, empty state)",
            None,
            f"{fmt(per_endpoint_ms)} ms per endpoint over the baseline; {ENDPOINTS - DAILY} unpartitioned + "
            f"{DAILY} daily-partitioned (2 multi-assets); state file {fmt(size_kb)} kB",
        ),
        BenchRow(
            "HTTP requests to PostHog while loading (10 loads)",
            float(load_requests),
            "requests",
            None,
            "== 0",
            load_requests == 0,
            "counted by the local server over 5 loads of each location",
        ),
        BenchRow(
            f"refresh state (`dg utils refresh-defs-state` step) for {ENDPOINTS} endpoints",
            refresh_seconds * 1e3,
            "ms",
            None,
            "1 request",
            refresh_requests == 1,
            f"{refresh_requests} request(s): one list of the project",
        ),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
