"""The `dg` CLI finds, scaffolds, refreshes and loads the component (real subprocesses)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from endpoints_dagster.local.process import LocalServer

DG = str(Path(sys.executable).with_name("dg"))
ENTRY_POINT_GROUP = "dagster_dg_cli.registry_modules"


def dg(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [DG, *args],
        cwd=cwd,
        env={**os.environ, "DAGSTER_DISABLE_TELEMETRY": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"dg {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _entry_point_installed() -> bool:
    return any(
        ep.value == "endpoints_dagster" for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    )


needs_entry_point = pytest.mark.skipif(
    not _entry_point_installed(),
    reason=(
        'the `dagster_dg_cli.registry_modules` entry point `endpoints_dagster = "endpoints_dagster"` is not '
        "installed: re-install the package (`pip install -e .`) after adding it to pyproject.toml"
    ),
)


@needs_entry_point
def test_dg_list_components_shows_it(tmp_path):
    result = dg("list", "components", "--json", cwd=tmp_path)
    items = {item["key"]: item for item in json.loads(result.stdout)["items"]}
    assert "endpoints_dagster.PostHogEndpointsComponent" in items
    assert "PostHog" in items["endpoints_dagster.PostHogEndpointsComponent"]["summary"]


@needs_entry_point
@pytest.mark.slow
@pytest.mark.integration
def test_dg_project_scaffold_refresh_and_load(tmp_path):
    """The whole user journey in a dg project: scaffold, refresh-defs-state, list defs."""
    project = tmp_path / "proj"
    package = project / "src" / "ph_demo"
    (package / "defs").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            import dagster as dg

            @dg.definitions
            def defs():
                return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
            """
        )
    )
    (project / "dg.toml").write_text(
        textwrap.dedent(
            """
            directory_type = "project"

            [project]
            root_module = "ph_demo"
            """
        )
    )
    env = {"PYTHONPATH": str(project / "src")}

    dg(
        "scaffold",
        "defs",
        "endpoints_dagster.PostHogEndpointsComponent",
        "posthog",
        "--project-id",
        "1",
        "--api-key-env",
        "DEMO_POSTHOG_KEY",
        cwd=project,
        env=env,
    )
    defs_yaml = (package / "defs" / "posthog" / "defs.yaml").read_text()
    assert defs_yaml.startswith("type: endpoints_dagster.PostHogEndpointsComponent")
    assert '"{{ env.DEMO_POSTHOG_KEY }}"' in defs_yaml

    server = LocalServer(tmp_path / "posthog", events=2_000)
    server.start()
    try:
        env.update({"POSTHOG_HOST": server.url, "DEMO_POSTHOG_KEY": server.api_key})
        server.control.reset_stats()
        result = dg("utils", "refresh-defs-state", cwd=project, env=env)
        assert "PostHogEndpointsComponent[project_1]" in result.stdout
        assert server.control.request_count("GET /api/projects/{project_id}/endpoints/") == 1

        server.control.reset_stats()
        listed = json.loads(dg("list", "defs", "--json", cwd=project, env=env).stdout)
        api_requests = {r: n for r, n in server.control.stats()["requests"].items() if " /_local" not in r}
        assert api_requests == {}
    finally:
        server.stop()
    keys = {a["asset_key"] for a in listed["assets"]}
    assert {"posthog/daily_signups", "posthog/top_events", "posthog/revenue_by_country"} <= keys
    daily = next(a for a in listed["assets"] if a["asset_key"] == "posthog/daily_signups")
    assert "```sql" in daily["description"]
