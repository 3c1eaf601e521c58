"""`make demo`'s script end to end: it exits 0 and the DuckDB file holds every demo table, non-empty."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.integration]

DEMO_TABLES = {
    "daily_signups",
    "revenue_by_country",
    "top_events",
    "signup_to_purchase_funnel",
    "weekly_active_users",
    "feature_usage_by_plan",
    "events_by_browser",
    "kpi_report",
}


def test_demo_lands_every_table_and_the_sensor_fires_once(tmp_path: Path):
    env = {**os.environ, "DEMO_WORK_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "scripts/demo.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("RunRequest(run_key='revenue_by_country:") == 1
    # Endpoints as code: the edited file's plan shows the diff, and materializing deploys version 2.
    assert "+ORDER BY revenue DESC, country" in done.stdout and "creates version 2" in done.stdout
    assert "revenue_by_country is now at version 2 in PostHog" in done.stdout

    with duckdb.connect(str(tmp_path / "data" / "demo.duckdb"), read_only=True) as con:
        counts = {
            table: con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()[0]
            for schema, table in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
            ).fetchall()
        }
    assert set(counts) == DEMO_TABLES
    assert all(n > 0 for n in counts.values()), counts
    assert counts["daily_signups"] == 7  # the last seven days, one row each

    # The key never reaches the Dagster output the demo captured.
    assert "phx_local_demo_key" not in (tmp_path / ".local-posthog" / "demo.log").read_text()
