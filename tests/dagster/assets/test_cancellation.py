"""Stopping a run stops the PostHog query: termination and run timeouts cancel it on the server.

Both API dialects (``local_server`` is overridden with ``any_dialect_server``): on the documented
one the client polls an async query; on the current one (PostHog today) the run is one open
request, and the client cancels it by the ``client_query_id`` it sent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from endpoints_dagster import PostHogEndpointsResource, build_endpoint_assets

pytestmark = pytest.mark.integration


@pytest.fixture
def local_server(any_dialect_server):
    return any_dialect_server


DEFS = textwrap.dedent(
    """
    import os
    import dagster as dg
    from endpoints_dagster import PostHogEndpointsResource, build_endpoint_assets

    defs = dg.Definitions(
        assets=build_endpoint_assets([os.environ["SLOW_ENDPOINT"]]),
        resources={"posthog": PostHogEndpointsResource(
            host=dg.EnvVar("POSTHOG_HOST"),
            project_id=dg.EnvVar("POSTHOG_PROJECT_ID"),
            personal_api_key=dg.EnvVar("POSTHOG_PERSONAL_API_KEY"),
        )},
    )
    """
)


@pytest.mark.slow
def test_terminating_the_run_cancels_the_query(
    tmp_path: Path, local_server, server_control, endpoint_factory, wait_until
):
    name = endpoint_factory("SELECT count() AS n FROM events")
    server_control.set_knobs(latency_by_endpoint={name: 120.0})
    (tmp_path / "defs.py").write_text(DEFS)
    env = {
        **os.environ,
        "SLOW_ENDPOINT": name,
        "POSTHOG_HOST": local_server.url,
        "POSTHOG_PROJECT_ID": str(local_server.project_id),
        "POSTHOG_PERSONAL_API_KEY": local_server.api_key,
        "DAGSTER_HOME": str(tmp_path),
    }
    (tmp_path / "dagster.yaml").touch()
    dagster = Path(sys.executable).parent / "dagster"
    run = subprocess.Popen(
        [str(dagster), "asset", "materialize", "-f", "defs.py", "--select", f"posthog/{name}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(
            lambda: any(e["status"] == "running" for e in server_control.executions(endpoint=name)),
            timeout=120,
        )
        run.send_signal(signal.SIGINT)  # what `dagster` does to a run it terminates
        output, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode != 0
    [execution] = server_control.executions(endpoint=name)
    assert execution["status"] == "cancelled", output[-3000:]
    assert server_control.request_count("DELETE /api/projects/{project_id}/query/{query_id}/") == 1
    assert local_server.api_key not in output


def test_run_timeout_cancels_the_query(local_server, server_control, endpoint_factory):
    name = endpoint_factory("SELECT 1 AS one")
    server_control.set_knobs(latency_by_endpoint={name: 60.0})
    posthog = PostHogEndpointsResource(
        host=local_server.url,
        project_id=str(local_server.project_id),
        personal_api_key=local_server.api_key,
        run_timeout=1.0,
        poll_interval=0.05,
    )
    result = dg.materialize(
        build_endpoint_assets([name]), resources={"posthog": posthog}, raise_on_error=False
    )
    assert not result.success
    message = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error.message
    assert name in message and "run_timeout" in message
    [execution] = server_control.executions(endpoint=name)
    assert execution["status"] == "cancelled"
