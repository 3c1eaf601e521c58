"""`make dev`: the local PostHog Endpoints server plus `dagster dev` on the demo workspace.

Open the printed Dagster UI address; stop both with Ctrl-C. Set DAGSTER_PORT to change the
UI port (default 3000).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from endpoints_dagster.local.process import LocalServer

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    state = ROOT / ".local-posthog"
    home = ROOT / ".dagster_home" / "dev"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").touch()
    (ROOT / "data").mkdir(exist_ok=True)
    with LocalServer(state / "server", demo=True) as server:
        print(f"local PostHog Endpoints server: {server.url} (project {server.project_id})", flush=True)
        env = {
            **os.environ,
            "POSTHOG_HOST": server.url,
            "POSTHOG_PROJECT_ID": str(server.project_id),
            "POSTHOG_PERSONAL_API_KEY": server.api_key,
            "DEMO_DUCKDB_PATH": str(ROOT / "data" / "demo.duckdb"),
            "DAGSTER_HOME": str(home),
        }
        port = os.environ.get("DAGSTER_PORT", "3000")
        bin_dir = Path(sys.executable).parent
        # The component in demo_defs/ needs the saved endpoint list (one request to the server).
        subprocess.run(
            [str(bin_dir / "dg"), "utils", "refresh-defs-state"],
            cwd=ROOT,
            env={**env, "PYTHONPATH": str(ROOT)},
            check=True,
        )
        dagster = bin_dir / "dagster"
        try:
            return subprocess.call(
                [str(dagster), "dev", "-w", "workspace.yaml", "-p", port], cwd=ROOT, env=env
            )
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
