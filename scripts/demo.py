"""`make demo`: the whole pipeline end to end against the local PostHog Endpoints server.

Starts the local server with its demo project, materializes every demo asset through Dagster's
own CLI, shows the endpoints-as-code round trip (edit a file of demo_endpoints/, plan, materialize:
version 2), prints what landed in DuckDB, and stops the server. Exits non-zero if anything failed
or a table is empty. The Dagster output is kept in `.local-posthog/demo.log`.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from endpoints_dagster.local.process import LocalServer

ROOT = Path(__file__).resolve().parents[1]
# Where the demo keeps its server state, Dagster home and DuckDB file (tests point it elsewhere).
WORK = Path(os.environ.get("DEMO_WORK_DIR", ROOT))
STATE = WORK / ".local-posthog"
DUCKDB_PATH = WORK / "data" / "demo.duckdb"
LOG_PATH = STATE / "demo.log"
DAGSTER_HOME = WORK / ".dagster_home" / "demo"


def dagster(args: list[str], env: dict[str, str], log) -> None:
    """Run one `dagster` CLI command, appending its output to the demo log."""
    command = [str(Path(sys.executable).parent / "dagster"), *args]
    started = time.monotonic()
    print(f"$ dagster {' '.join(args)}", flush=True)
    log.write(f"\n$ dagster {' '.join(args)}\n")
    log.flush()
    proc = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise SystemExit(f"dagster {' '.join(args)} failed (exit {proc.returncode}); see {LOG_PATH}")
    print(f"  ok in {time.monotonic() - started:.1f} s", flush=True)


def refresh_component_state(env: dict[str, str], log) -> None:
    """Save the endpoint list that the component in demo_defs/ turns into assets (one request)."""
    command = [str(Path(sys.executable).parent / "dg"), "utils", "refresh-defs-state"]
    print("$ dg utils refresh-defs-state", flush=True)
    log.write("\n$ dg utils refresh-defs-state\n")
    log.flush()
    env = {**env, "PYTHONPATH": str(ROOT)}
    if subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode != 0:
        raise SystemExit(f"dg utils refresh-defs-state failed; see {LOG_PATH}")


def sensor_fires_once(server: LocalServer, env: dict[str, str]) -> None:
    """A dashboard executes `revenue_by_country` through the API; the sensor asks for one run."""
    import dagster as dg
    import httpx

    os.environ.update(env)  # definitions.py reads the connection from the environment
    sys.path.insert(0, str(ROOT))
    import definitions

    sensor = definitions.revenue_executed_sensor
    resources = {"posthog": definitions.defs.resources["posthog"]}
    with dg.DagsterInstance.get() as instance:

        def tick(cursor: str | None) -> dg.SensorResult:
            with dg.build_sensor_context(
                instance=instance, cursor=cursor, resources=resources, definitions=definitions.defs
            ) as context:
                return sensor(context)

        baseline = tick(None)
        print(f"\nsensor {sensor.name}: first tick records a baseline ({baseline.skip_reason.skip_message})")
        response = httpx.post(
            f"{server.url}/api/projects/{server.project_id}/endpoints/revenue_by_country/run/",
            headers={"Authorization": f"Bearer {server.api_key}"},
            # A fresh computation: answers served from cache are not executions.
            json={"variables_values": {"plan": "enterprise"}, "refresh": "force_blocking"},
            timeout=60,
        )
        response.raise_for_status()
        print("a dashboard executed revenue_by_country through the API")
        fired = tick(baseline.cursor)
        for request in fired.run_requests or []:
            print(
                f"sensor {sensor.name}: RunRequest(run_key={request.run_key!r}, job={sensor.job_name}, "
                f"tags={dict(request.tags)})"
            )
        if len(fired.run_requests or []) != 1:
            raise SystemExit(f"expected one run request from the sensor, got {fired.run_requests!r}")
        (request,) = fired.run_requests
        again = tick(fired.cursor)
        if again.run_requests:
            raise SystemExit(f"a repeated tick asked for another run: {again.run_requests!r}")
        print(f"sensor {sensor.name}: the next tick asks for nothing more")

        # Launch the requested run; it executes revenue_by_country itself, which must not
        # trigger the sensor again.
        job = definitions.defs.resolve_job_def(sensor.job_name)
        if not job.execute_in_process(
            run_config=request.run_config, tags=request.tags, instance=instance
        ).success:
            raise SystemExit(f"{sensor.job_name} failed")
        print(f"{sensor.job_name} ran for that execution")
        after = tick(again.cursor)
        if after.run_requests:
            raise SystemExit(f"the sensor reacted to Dagster's own run: {after.run_requests!r}")
        print(f"sensor {sensor.name}: after the launched run: {after.skip_reason.skip_message}")


def endpoint_file_round_trip(server: LocalServer, env: dict[str, str], log) -> None:
    """Endpoints as code: edit a file, `plan` shows the diff, materializing deploys version 2.

    The edit is made in a copy of demo_endpoints/, so the repository's files stay as they are.
    """
    import httpx

    edited = STATE / "demo_endpoints"
    shutil.rmtree(edited, ignore_errors=True)
    shutil.copytree(ROOT / "demo_endpoints", edited, ignore=shutil.ignore_patterns("*.lock.json"))
    path = edited / "revenue_by_country.sql"
    path.write_text(path.read_text().replace("ORDER BY revenue DESC", "ORDER BY revenue DESC, country"))

    for folder, expected in ((ROOT / "demo_endpoints", 0), (edited, 2)):
        print(f"$ python -m endpoints_dagster plan {folder.relative_to(WORK if folder == edited else ROOT)}")
        proc = subprocess.run(
            [sys.executable, "-m", "endpoints_dagster", "plan", str(folder)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        log.write(proc.stdout + proc.stderr)
        for line in proc.stdout.splitlines():
            if not line.startswith("?"):  # endpoints without a file: not the point here
                print(f"  {line}")
        if proc.returncode != expected:
            raise SystemExit(f"plan exited {proc.returncode}, expected {expected}: {proc.stderr}")
    dagster(
        ["asset", "materialize", "-m", "definitions", "--select", "posthog/revenue_by_country"],
        {**env, "DEMO_ENDPOINTS_DIR": str(edited)},
        log,
    )
    url = f"{server.url}/api/projects/{server.project_id}/endpoints/revenue_by_country/"
    version = httpx.get(url, headers=server.headers, timeout=30).json()["current_version"]
    print(f"  revenue_by_country is now at version {version} in PostHog, deployed from the edited file")
    if version != 2:
        raise SystemExit(f"expected version 2 after materializing the edited file, got {version}")


def summary(path: Path) -> list[tuple[str, int, list[str]]]:
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2"
        ).fetchall()
        out = []
        for schema, table in tables:
            rows = con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()[0]
            columns = [r[0] for r in con.execute(f'DESCRIBE "{schema}"."{table}"').fetchall()]
            out.append((f"{schema}.{table}", rows, columns))
        return out


def main() -> int:
    STATE.mkdir(parents=True, exist_ok=True)
    DUCKDB_PATH.parent.mkdir(parents=True, exist_ok=True)
    DAGSTER_HOME.mkdir(parents=True, exist_ok=True)
    (DAGSTER_HOME / "dagster.yaml").touch()
    today = dt.date.today()
    week = f"{today - dt.timedelta(days=7)}...{today - dt.timedelta(days=1)}"

    # A fresh server each time: its generated events end today, so "the last seven days" has data.
    shutil.rmtree(STATE / "server", ignore_errors=True)
    with LocalServer(STATE / "server", demo=True) as server, LOG_PATH.open("w") as log:
        print(f"local PostHog Endpoints server: {server.url} (project {server.project_id})", flush=True)
        env = {
            **os.environ,
            "POSTHOG_HOST": server.url,
            "POSTHOG_PROJECT_ID": str(server.project_id),
            "POSTHOG_PERSONAL_API_KEY": server.api_key,
            "DEMO_DUCKDB_PATH": str(DUCKDB_PATH),
            "DAGSTER_HOME": str(DAGSTER_HOME),
        }
        refresh_component_state(env, log)
        base = ["asset", "materialize", "-m", "definitions"]
        unpartitioned = [
            "posthog/revenue_by_country",
            "posthog/top_events",
            "posthog/signup_to_purchase_funnel",
            "posthog/weekly_active_users",
            "posthog/feature_usage_by_plan",
            "posthog/events_by_browser",  # discovered by the component in demo_defs/
            "kpi_report",
        ]
        dagster([*base, "--select", ",".join(unpartitioned)], env, log)
        # The last seven days in one run: the endpoint takes the whole window at once.
        dagster([*base, "--select", "posthog/daily_signups", "--partition-range", week], env, log)
        sensor_fires_once(server, env)
        endpoint_file_round_trip(server, env, log)

    print(f"\nlanded in {DUCKDB_PATH}:")
    tables = summary(DUCKDB_PATH)
    width = max(len(name) for name, _, _ in tables)
    for name, rows, columns in tables:
        print(f"  {name:<{width}}  {rows:>6} rows  {', '.join(columns)}")
    empty = [name for name, rows, _ in tables if rows == 0]
    if not tables or empty:
        print(f"empty tables: {', '.join(empty) or 'no tables at all'}", file=sys.stderr)
        return 1
    if server.api_key in LOG_PATH.read_text():
        print("the API key appeared in the Dagster output", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
