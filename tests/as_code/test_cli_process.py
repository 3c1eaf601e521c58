"""`python -m endpoints_dagster` as CI runs it: a real process, the key from the environment only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from endpoints_dagster.local.process import LocalServer

pytestmark = pytest.mark.integration


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "endpoints_dagster", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_plan_from_a_process_and_a_refused_key_never_printed(
    local_server: LocalServer, tmp_path: Path
) -> None:
    (tmp_path / "top_events.sql").write_text(
        "-- variables: {min_count: 100}\n\nSELECT event, count() AS events, uniq(person_id) AS persons\n"
        "FROM events WHERE {filters} GROUP BY event\n"
        "HAVING events >= {variables.min_count} ORDER BY events DESC\n"
    )
    env = {
        "POSTHOG_HOST": local_server.url,
        "POSTHOG_PROJECT_ID": str(local_server.project_id),
        "POSTHOG_PERSONAL_API_KEY": local_server.api_key,
    }
    done = _run(["plan", str(tmp_path)], env)
    assert done.returncode in (0, 2), done.stderr
    assert "top_events" in done.stdout and local_server.api_key not in done.stdout + done.stderr

    wrong = "phx_wrong_key_that_must_not_be_printed_0123"
    done = _run(["plan", str(tmp_path)], {**env, "POSTHOG_PERSONAL_API_KEY": wrong})
    assert done.returncode == 1 and "401" in done.stderr
    assert wrong not in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_help_documents_the_exit_codes() -> None:
    done = _run(["--help"], {})
    assert done.returncode == 0 and "plan 0 = no changes, 2 = changes, 1 = error" in done.stdout


def test_a_usage_error_exits_1_not_2_which_means_changes() -> None:
    done = _run(["plan"], {})
    assert done.returncode == 1 and "usage:" in done.stderr
