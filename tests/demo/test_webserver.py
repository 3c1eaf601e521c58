"""The demo workspace as the Dagster UI sees it: the webserver's GraphQL API over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.integration]

QUERY = """
{
  assetNodes { assetKey { path } }
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes {
        name
        location { name }
        schedules { name }
        sensors { name }
        allTopLevelResourceDetails { name configuredValues { key value type } }
      }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def webserver(local_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster-home")
    (home / "dagster.yaml").touch()
    port = free_port()
    env = {
        **os.environ,
        "POSTHOG_HOST": local_server.url,
        "POSTHOG_PROJECT_ID": str(local_server.project_id),
        "POSTHOG_PERSONAL_API_KEY": local_server.api_key,
        "DEMO_DUCKDB_PATH": str(home / "demo.duckdb"),
        "DAGSTER_HOME": str(home),
    }
    log = (home / "webserver.log").open("w")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-webserver"),
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"dagster-webserver did not start:\n{(home / 'webserver.log').read_text()[-3000:]}"
                )
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def graphql(url: str) -> tuple[dict, str]:
    deadline = time.monotonic() + 120
    while True:  # the code location loads in the background after the server answers
        response = httpx.post(f"{url}/graphql", json={"query": QUERY}, timeout=60)
        data = response.json()["data"]
        repos = data["repositoriesOrError"].get("nodes")
        if repos or time.monotonic() > deadline:
            return data, response.text
        time.sleep(1)


def test_ui_shows_the_demo_assets_schedule_and_sensor(webserver, local_server):
    data, raw = graphql(webserver)
    keys = {"/".join(node["assetKey"]["path"]) for node in data["assetNodes"]}
    for expected in (
        "posthog/daily_signups",
        "posthog/revenue_by_country",
        "posthog/top_events",
        "posthog/signup_to_purchase_funnel",
        "posthog/weekly_active_users",
        "posthog/feature_usage_by_plan",
        "kpi_report",
    ):
        assert expected in keys
    [repo] = data["repositoriesOrError"]["nodes"]
    assert repo["location"]["name"] == "endpoints_demo"
    assert "daily_signups_schedule" in {s["name"] for s in repo["schedules"]}
    assert repo["sensors"], "the demo defines a sensor"

    # The resource's configuration is visible, the key is not: only its variable's name.
    resources = {r["name"]: r for r in repo["allTopLevelResourceDetails"]}
    key_config = next(v for v in resources["posthog"]["configuredValues"] if v["key"] == "personal_api_key")
    assert key_config["type"] == "ENV_VAR" and key_config["value"] == "POSTHOG_PERSONAL_API_KEY"
    assert local_server.api_key not in raw
