"""A brand-new project built from the README alone (issue 14), against the local server.

The install section's extras must exist in pyproject; the README's `definitions.py` is written into
an empty folder (no repository file copied) and driven there by a script run with this interpreter:
it materializes an asset, ticks the sensor around an execution made outside Dagster, and backfills
two days of the partitioned asset in one run.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomllib
from markdown_it import MarkdownIt

from endpoints_dagster.local.process import LocalServer

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "## Use it in your project"


def section_fences() -> list[tuple[str, str]]:
    """(info, text) of the fences of the README's "Use it in your project" section."""
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    tokens = MarkdownIt().parse(text[start:end])
    return [(t.info.strip(), t.content) for t in tokens if t.type == "fence"]


def test_the_install_command_names_extras_that_exist():
    install = next(text for info, text in section_fences() if info == "sh" and "pip install" in text)
    extras = {
        extra.strip()
        for group in re.findall(r"endpoints-dagster\[([^\]]+)\]", install)
        for extra in group.split(",")
    }
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = pyproject["optional-dependencies"]
    assert extras and extras <= set(declared), extras - set(declared)
    assert "dg" in extras
    # `dg` is pinned to the Dagster line the library is built for.
    dagster_line = next(d for d in pyproject["dependencies"] if d.startswith("dagster>="))
    assert any(d == "dagster-dg-cli" + dagster_line.removeprefix("dagster") for d in declared["dg"])


DRIVER = textwrap.dedent(
    """
    import json
    import os

    import dagster as dg

    from definitions import defs, posthog_assets, resources, revenue_sensor
    from endpoints_dagster import EndpointsClient

    out = {}
    top = dg.materialize(posthog_assets, resources=resources, selection="posthog/top_events")
    out["top_events_rows"] = len(top.asset_value(dg.AssetKey(["posthog", "top_events"])))

    instance = dg.DagsterInstance.ephemeral()
    tick = dict(instance=instance, definitions=defs, resources=resources)
    with dg.build_sensor_context(**tick) as context:
        baseline = revenue_sensor(context)
    env = os.environ
    key = env["POSTHOG_PERSONAL_API_KEY"]
    with EndpointsClient(env["POSTHOG_HOST"], env["POSTHOG_PROJECT_ID"], key) as c:  # a dashboard's call
        c.run_endpoint("revenue_by_country", variables={"plan": "pro"}, refresh="force_blocking")
    with dg.build_sensor_context(cursor=baseline.cursor, **tick) as context:
        fired = revenue_sensor(context)
    out["sensor_runs"] = [r.tags["posthog/endpoint"] for r in fired.run_requests]

    backfill = dg.materialize(
        posthog_assets,
        resources=resources,
        selection="posthog/daily_signups",
        tags={
            "dagster/asset_partition_range_start": "2026-11-01",
            "dagster/asset_partition_range_end": "2026-11-02",
        },
    )
    out["backfill_success"] = backfill.success
    import duckdb

    with duckdb.connect(env["DUCKDB_PATH"]) as db:
        out["backfill_days"] = [str(d) for (d,) in db.execute(
            "SELECT DISTINCT day FROM posthog.daily_signups ORDER BY day").fetchall()]
    print("RESULT " + json.dumps(out))
    """
)


def test_a_new_project_from_the_readme_materializes_senses_and_backfills(tmp_path):
    definitions = next(text for info, text in section_fences() if info == "python")
    project = tmp_path / "my_project"
    project.mkdir()
    (project / "definitions.py").write_text(definitions, encoding="utf-8")
    (project / "drive.py").write_text(DRIVER, encoding="utf-8")
    with LocalServer(tmp_path / "posthog", demo=True, events=20_000) as server:
        env = {
            "PATH": str(Path(sys.executable).parent),
            "HOME": str(tmp_path),
            "POSTHOG_HOST": server.url,
            "POSTHOG_PROJECT_ID": str(server.project_id),
            "POSTHOG_PERSONAL_API_KEY": server.api_key,
            "DUCKDB_PATH": str(project / "warehouse.duckdb"),
        }
        done = subprocess.run(
            [sys.executable, "drive.py"], cwd=project, env=env, capture_output=True, text=True, timeout=240
        )
        backfill_queries = server.control.executions(endpoint="daily_signups")
    assert done.returncode == 0, done.stderr[-3000:]
    assert server.api_key not in done.stdout + done.stderr
    result = __import__("json").loads(done.stdout.split("RESULT ", 1)[1])
    assert result["top_events_rows"] > 0
    assert result["sensor_runs"] == ["revenue_by_country"]
    assert result["backfill_success"] is True
    assert len(backfill_queries) == 1  # two days, one query over the window
    assert set(result["backfill_days"]) <= {"2026-11-01", "2026-11-02"} and result["backfill_days"]
