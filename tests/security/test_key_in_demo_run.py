"""A demo-like run through Dagster's CLI never writes the API key: not in its output, not in the
instance's storage (event logs, run storage, compute logs), also when every endpoint fails.

A copy of the demo project (``pyproject.toml``, ``definitions.py``, ``demo_defs/``,
``demo_endpoints/``) in a temporary folder, run as ``make demo`` does: ``dg utils refresh-defs-state``
(the component's endpoint list), then ``dagster asset materialize`` against a local server started
with a recognisable key;
``httpx``, ``httpcore`` and the client's logger are managed by Dagster at DEBUG, so their lines land
in the event log too. A second run points at a project the key may not read, so error texts go
through the same paths. Then every file under ``DAGSTER_HOME`` and the project copy is scanned.
(The webserver's GraphQL answers for the resource config: ``tests/demo/test_webserver.py``.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from endpoints_dagster.local.process import LocalServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
KEY = "phx_DemoSecret_5e1f2a3b4c5d6e7f8091"
ASSETS = [
    "posthog/revenue_by_country",
    "posthog/top_events",
    "posthog/signup_to_purchase_funnel",
    "posthog/weekly_active_users",
    "posthog/feature_usage_by_plan",
    "posthog/events_by_browser",
    "kpi_report",
]
DAGSTER_YAML = """\
python_logs:
  python_log_level: DEBUG
  managed_python_loggers:
    - httpx
    - httpcore
    - endpoints_dagster
telemetry:
  enabled: false
"""


def cli(tool: str, args: list[str], env: dict[str, str], project: Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / tool), *args]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=240)


def copy_project(project: Path) -> None:
    project.mkdir()
    for name in ("pyproject.toml", "definitions.py"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(
        ROOT / "demo_defs",
        project / "demo_defs",
        ignore=shutil.ignore_patterns(".local_defs_state", "__pycache__"),
    )
    shutil.copytree(ROOT / "demo_endpoints", project / "demo_endpoints")  # endpoint files of definitions.py


def files_holding(root: Path, secret: str) -> list[str]:
    needle = secret.encode()
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_the_key_is_in_no_output_and_no_stored_file(tmp_path: Path):
    home, project = tmp_path / "dagster_home", tmp_path / "project"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    copy_project(project)
    materialize = ["asset", "materialize", "-m", "definitions", "--select", ",".join(ASSETS)]
    # Project 2 exists (another key's), but KEY may not read it: every run gets a 403.
    other = ["--api-key=phx_another_project_key_000@2"]
    with LocalServer(tmp_path / "server", api_key=KEY, demo=True, events=20_000, extra_args=other) as server:
        env = {
            **os.environ,
            "PYTHONPATH": str(project),
            "DAGSTER_HOME": str(home),
            "POSTHOG_HOST": server.url,
            "POSTHOG_PROJECT_ID": str(server.project_id),
            "POSTHOG_PERSONAL_API_KEY": KEY,
            "DEMO_DUCKDB_PATH": str(tmp_path / "demo.duckdb"),
        }
        refreshed = cli("dg", ["utils", "refresh-defs-state"], env, project)
        assert refreshed.returncode == 0, refreshed.stderr[-3000:]
        ok = cli("dagster", materialize, env, project)
        assert ok.returncode == 0, ok.stderr[-3000:]
        # Project 2: the component has no saved state for it, so only the hand-written assets exist.
        handwritten = ["asset", "materialize", "-m", "definitions", "--select", ",".join(ASSETS[:5])]
        denied = cli(
            "dagster", handwritten, {**env, "POSTHOG_PROJECT_ID": str(server.project_id + 1)}, project
        )
        assert denied.returncode != 0
    outputs = {
        name: run.stdout + run.stderr
        for name, run in (("refresh", refreshed), ("ok", ok), ("denied", denied))
    }
    assert (
        "RUN_SUCCESS" in outputs["ok"] and "GET /api/projects/" in outputs["ok"]
    )  # the client's DEBUG lines
    assert "(403)" in outputs["denied"], outputs["denied"][
        -4000:
    ]  # the failure's text went through the same logs
    assert [name for name, text in outputs.items() if KEY in text] == []
    assert files_holding(home, KEY) == [] and files_holding(project, KEY) == []
    # The scan read the event log storage: the client's log lines and the 403 texts are in it.
    assert files_holding(home, "GET /api/projects/") and files_holding(home, "(403)")
