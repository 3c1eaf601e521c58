"""`make demo`: the whole pipeline end to end against the local PostHog Endpoints server.

Starts the local server with its demo project, materializes every demo asset through Dagster's
own CLI, prints what landed in DuckDB, and stops the server. Exits non-zero if anything failed
or a table is empty. The Dagster output is kept in `.local-posthog/demo.log`.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from endpoints_dagster.local.process import LocalServer

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".local-posthog"
DUCKDB_PATH = ROOT / "data" / "demo.duckdb"
LOG_PATH = STATE / "demo.log"
DAGSTER_HOME = ROOT / ".dagster_home" / "demo"


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
    STATE.mkdir(exist_ok=True)
    DUCKDB_PATH.parent.mkdir(exist_ok=True)
    DAGSTER_HOME.mkdir(parents=True, exist_ok=True)
    (DAGSTER_HOME / "dagster.yaml").touch()
    today = dt.date.today()
    week = f"{today - dt.timedelta(days=7)}...{today - dt.timedelta(days=1)}"

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
        base = ["asset", "materialize", "-m", "definitions"]
        unpartitioned = [
            "posthog/revenue_by_country",
            "posthog/top_events",
            "posthog/signup_to_purchase_funnel",
            "posthog/weekly_active_users",
            "posthog/feature_usage_by_plan",
            "kpi_report",
        ]
        dagster([*base, "--select", ",".join(unpartitioned)], env, log)
        # The last seven days in one run: the endpoint takes the whole window at once.
        dagster([*base, "--select", "posthog/daily_signups", "--partition-range", week], env, log)

    print(f"\nlanded in {DUCKDB_PATH.relative_to(ROOT)}:")
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
