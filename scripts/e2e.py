"""`make e2e`: the demo pipeline as a person sees it in the Dagster UI, checked in a real browser.

1. Installs Debian's Chromium when it is missing (as root, through apt-get).
2. Starts the local PostHog Endpoints server (`--demo`), then `dagster-webserver` and
   `dagster-daemon` over the project's `workspace.yaml`, on free ports, with a fresh
   DAGSTER_HOME and DuckDB file under `.e2e/`.
3. Through the webserver's GraphQL API, as the UI's buttons do: one run for every unpartitioned
   demo asset (with `top_events` slowed down by the server's latency knob, so its run log shows
   progress lines) and a backfill of the last days of `daily_signups`; waits for both to succeed.
4. Drives headless Chromium through Playwright (`scripts/e2e_browser.py`) over those pages
   (`scripts/e2e_checks.py`): the asset graph, the latest materialization of
   `revenue_by_country`, the slow run's progress lines, the sensor (whose tick is previewed in the
   UI, before and after a dashboard executes the endpoint) and the schedule. Each page is read
   only once it has settled (nothing says Loading..., no spinner, no skeleton); every page is
   checked even if an earlier one failed. Screenshots go to `.e2e/screenshots/`. Only with
   `--update-docs-images` are the graph and materialization ones copied to `docs/` (the README's
   images); a plain run, as in CI, leaves the working tree clean.

Nothing waits a fixed time: Dagster's state (the code location, the run, the backfill) is polled
through GraphQL until a deadline, and the browser waits with Playwright's auto-waiting locators
and web-first assertions, with timeouts generous enough for a loaded 2-core machine.

Exits 0 when every check passed, 1 when one failed (each failure is listed, and written with the
timings to `<state>/report.json`), 2 when the set-up itself failed. `--project DIR` points it at
another copy of the project (a folder with `workspace.yaml` and `definitions.py`), which is how
`scripts/e2e_broken.py` shows that the checks catch a broken project.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_browser import open_page
from e2e_checks import CHECKS, Context, run_checks

from endpoints_dagster.local.process import LocalServer

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOCATION = "endpoints_demo"
PARTITIONED = ["posthog", "daily_signups"]
BACKFILL_DAYS = 3
SLOW_ENDPOINT = "top_events"
SLOW_SECONDS = 12.0
#: The browser window: 1600x1000 CSS pixels captured at 0.8 give 1280x800 screenshots that show
#: more of a page than a 1280x800 window would (the graph check makes the window taller).
WINDOW = (1600, 1000, 0.8)
DOCS_SHOTS = {"asset-graph.png": "asset-graph.png", "materialization.png": "materialization.png"}
APT_PACKAGES = ["chromium", "fonts-liberation", "pngquant"]
#: How often Dagster's state is polled while waiting for it (each wait has its own deadline).
POLL_SECONDS = 0.5


class SetupError(RuntimeError):
    """The pipeline could not be brought up (not a UI finding)."""


#: What every line of this run starts with (`--label`): `make e2e` runs two side by side.
LABEL = "e2e"


def log(message: str) -> None:
    print(f"[{LABEL} {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- Chromium ---------------------------------------------------------------------------------


def ensure_chromium(state: Path) -> str:
    """Debian's Chromium (and pngquant for the docs images), installed through apt-get if missing.
    Two runs side by side (`make e2e`) take turns: the second finds what the first installed."""
    found = shutil.which("chromium")
    if found and shutil.which("pngquant"):
        return found
    if os.geteuid() != 0:
        if found:
            return found  # pngquant is optional: the docs images are then just larger
        raise SetupError(
            "Chromium is missing: run `sudo apt-get update && sudo apt-get install -y chromium`."
        )
    (ROOT / ".e2e").mkdir(exist_ok=True)
    with (ROOT / ".e2e" / "apt.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        found = shutil.which("chromium")
        if found and shutil.which("pngquant"):
            return found
        return apt_install(state)


def apt_install(state: Path) -> str:
    """apt-get install APT_PACKAGES (as root); the path of the chromium it installed."""
    log(f"installing {' '.join(APT_PACKAGES)} with apt-get (log: {state / 'apt.log'})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with (state / "apt.log").open("w") as out:
        # With its recommended packages, as this machine kind's own probe installed it (known to
        # render headless here); about a minute on a fresh machine.
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", *APT_PACKAGES]):
            if subprocess.call(command, stdout=out, stderr=subprocess.STDOUT, env=env) != 0:
                raise SetupError(f"`{' '.join(command)}` failed; see {state / 'apt.log'}")
    found = shutil.which("chromium")
    if not found:
        raise SetupError("apt-get installed chromium but it is not on PATH")
    return found


# --- Dagster processes ------------------------------------------------------------------------


def terminate(*processes: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process groups at once, so that they shut down side by side (each takes
    seconds); `service` then waits for each."""
    for process in processes:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)


def kill_group(process: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM the process group (started with `start_new_session=True`), SIGKILL what remains."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        process.wait(grace)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # children that outlived the leader
    process.wait()


def free_port() -> int:
    """A port the kernel just handed out as free (port 0), for the webserver to bind."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def service(
    name: str, command: list[str], *, cwd: Path, env: dict[str, str], logs: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A Dagster process in its own process group, so that stopping it also stops the code
    servers and run workers it started."""
    out = (logs / f"{name}.log").open("w")
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    out.close()
    try:
        yield process
    finally:
        started = time.monotonic()
        kill_group(process, grace=15)
        log(f"stopped {name} in {time.monotonic() - started:.1f} s")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def refresh_component_state(project: Path, env: dict[str, str], logs: Path) -> None:
    """Save the endpoint list that the component in demo_defs/ turns into assets, as `make dev`
    does (one request to the local server); without it the discovered endpoints are missing."""
    with (logs / "refresh-defs-state.log").open("w") as out:
        code = subprocess.call(
            [str(BIN / "dg"), "utils", "refresh-defs-state"],
            cwd=project,
            env={**env, "PYTHONPATH": str(project)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if code != 0:
        raise SetupError(f"dg utils refresh-defs-state failed:\n{tail(logs / 'refresh-defs-state.log')}")


class GraphQL:
    """The webserver's GraphQL API, as the UI calls it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=60)

    def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        response = self.client.post("/graphql", json={"query": query, "variables": variables})
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise SetupError(f"GraphQL error: {json.dumps(body.get('errors') or body)[:2000]}")
        data: dict[str, Any] = body["data"]
        return data


LOCATION_STATUS = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def wait_for_location(api: GraphQL, web: subprocess.Popen[bytes], logs: Path, timeout: float = 240) -> None:
    """Until the webserver answers and has loaded the code location (or say why it could not)."""
    deadline = time.monotonic() + timeout
    while True:
        if web.poll() is not None:
            raise SetupError(f"dagster-webserver exited ({web.returncode}):\n{tail(logs / 'webserver.log')}")
        if time.monotonic() > deadline:
            raise SetupError(
                f"the code location did not load in {timeout:.0f} s:\n{tail(logs / 'webserver.log')}"
            )
        try:
            entries = api(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
        except httpx.TransportError:
            time.sleep(POLL_SECONDS)
            continue
        entry = next((e for e in entries if e["name"] == LOCATION), None)
        if entry and entry["loadStatus"] == "LOADED":
            error = entry["locationOrLoadError"]
            if error and error["__typename"] == "PythonError":
                raise SetupError(f"the code location {LOCATION} failed to load: {error['message']}")
            return
        time.sleep(POLL_SECONDS)


# --- Launching and waiting --------------------------------------------------------------------

ASSETS = """{ assetNodes { assetKey { path } isPartitioned partitionKeys } }"""
LAUNCH_RUN = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }"""
LAUNCH_BACKFILL = """mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) { __typename
    ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
RUN_STATUS = """query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status
  eventConnection { events { __typename ... on MessageEvent { message level } } } } } }"""
BACKFILL_STATUS = """query($id: String!, $key: AssetKeyInput!) { partitionBackfillOrError(backfillId: $id) {
  __typename ... on PartitionBackfill { status runs(limit: 20) { runId status } } }
  assetNodeOrError(assetKey: $key) { ... on AssetNode { partitionStats { numMaterialized } } } }"""


#: Run config choosing the in-process half of Dagster's default executor.
IN_PROCESS: dict[str, Any] = {"execution": {"config": {"in_process": {}}}}


def launch(api: GraphQL) -> tuple[str, str | None, list[str]]:
    """One run of every unpartitioned asset (checks included), and a backfill of the last days of
    the partitioned one: what "Materialize all" does. Returns (run id, backfill id, partitions).

    Both execute their steps in the run's own process (the `in_process` choice of Dagster's
    default executor, as the launchpad offers it): the same steps and logs, without starting one
    Python process per step, which costs tens of seconds each on a loaded 2-core machine."""
    nodes = api(ASSETS)["assetNodes"]
    unpartitioned = [n["assetKey"] for n in nodes if not n["isPartitioned"]]
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": "__repository__",
            "jobName": "__ASSET_JOB",
            "assetSelection": unpartitioned,
        },
        "mode": "default",
        "runConfigData": IN_PROCESS,
        "executionMetadata": {"tags": [{"key": "e2e", "value": "unpartitioned"}]},
    }
    result = api(LAUNCH_RUN, params=params)["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        raise SetupError(f"launchRun answered {result}")
    run_id = result["run"]["runId"]
    partitioned = next((n for n in nodes if n["assetKey"]["path"] == PARTITIONED), None)
    if partitioned is None:
        return run_id, None, []  # a broken project may lack it; the UI checks say so
    keys = partitioned["partitionKeys"][-BACKFILL_DAYS:]
    result = api(
        LAUNCH_BACKFILL,
        params={
            "assetSelection": [{"path": PARTITIONED}],
            "partitionNames": keys,
            "fromFailure": False,
            "runConfigData": IN_PROCESS,
        },
    )["launchPartitionBackfill"]
    if result["__typename"] != "LaunchBackfillSuccess":
        raise SetupError(f"launchPartitionBackfill answered {result}")
    return run_id, result["backfillId"], keys


def wait_for_run(api: GraphQL, run_id: str, timeout: float = 300) -> None:
    """Until the run succeeded; raise with its errors if it failed, or when the deadline passed."""
    deadline = time.monotonic() + timeout
    while True:
        run = api(RUN_STATUS, id=run_id)["runOrError"]
        status = run.get("status")
        if status == "SUCCESS":
            return
        if status in ("FAILURE", "CANCELED"):
            errors = [e["message"] for e in run["eventConnection"]["events"] if e.get("level") == "ERROR"]
            raise SetupError(f"run {run_id} ended {status}:\n" + "\n".join(errors[-5:]))
        if time.monotonic() > deadline:
            raise SetupError(f"run {run_id} still {status} after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


def wait_for_backfill(api: GraphQL, backfill_id: str, partitions: list[str], timeout: float = 300) -> None:
    """Until the backfill's runs succeeded and every requested partition is materialized (the
    daemon marks the backfill itself completed up to half a minute later; no need to wait)."""
    deadline = time.monotonic() + timeout
    while True:
        backfill = api(BACKFILL_STATUS, id=backfill_id, key={"path": PARTITIONED})
        materialized = backfill["assetNodeOrError"].get("partitionStats", {}).get("numMaterialized", 0)
        backfill = backfill["partitionBackfillOrError"]
        status, runs = backfill.get("status"), backfill.get("runs") or []
        if status == "COMPLETED_SUCCESS" or (
            runs and all(r["status"] == "SUCCESS" for r in runs) and materialized >= len(partitions)
        ):
            return
        if status in ("FAILED", "COMPLETED_FAILED", "CANCELED") or any(
            r["status"] == "FAILURE" for r in runs
        ):
            raise SetupError(f"backfill {backfill_id} ended {status}; runs: {runs}")
        if time.monotonic() > deadline:
            raise SetupError(f"backfill {backfill_id} still {status} after {timeout:.0f} s; runs: {runs}")
        time.sleep(POLL_SECONDS)


# --- Docs images ------------------------------------------------------------------------------


def publish(shots: Path, docs: Path) -> list[Path]:
    """Copy the README's screenshots to docs/, squeezed by pngquant when it is there."""
    docs.mkdir(exist_ok=True)
    out = []
    for source, target in DOCS_SHOTS.items():
        path = docs / target
        shutil.copyfile(shots / source, path)
        if shutil.which("pngquant"):
            subprocess.run(
                [
                    "pngquant",
                    "--force",
                    "--skip-if-larger",
                    "--quality",
                    "65-90",
                    "--output",
                    str(path),
                    str(path),
                ],
                check=False,
            )
        out.append(path)
    return out


# --- Main -------------------------------------------------------------------------------------


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    global LABEL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--project", type=Path, default=ROOT, help="folder holding workspace.yaml (default: the repo)"
    )
    parser.add_argument(
        "--state", type=Path, default=ROOT / ".e2e", help="where logs, data and screenshots go"
    )
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where the README images go")
    parser.add_argument(
        "--update-docs-images",
        action="store_true",
        help="when every check passed, rewrite the README images in --docs (off by default, so that "
        "a CI run leaves the working tree clean)",
    )
    parser.add_argument("--label", default=LABEL, help="what each line of output starts with")
    args = parser.parse_args(argv)
    LABEL = args.label
    # A CI timeout (SIGTERM) must still run every `finally` below and stop the process groups.
    signal.signal(signal.SIGTERM, _interrupt)

    started = time.monotonic()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        timings[name] = time.monotonic() - since
        return time.monotonic()

    state = args.state.resolve()
    shutil.rmtree(state / "run", ignore_errors=True)
    shutil.rmtree(state / "screenshots", ignore_errors=True)
    (state / "report.json").unlink(missing_ok=True)
    run_dir, shots = state / "run", state / "screenshots"
    logs, home = run_dir / "logs", run_dir / "dagster_home"
    for folder in (logs, home, shots):
        folder.mkdir(parents=True)
    # Telemetry off; the default run coordinator (queued, served by the daemon) as in production.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    project = args.project.resolve()

    try:
        t = time.monotonic()
        chromium = ensure_chromium(state)
        t = lap("chromium install check", t)
        with ExitStack() as stack:
            server = stack.enter_context(LocalServer(run_dir / "server", demo=True))
            t = lap("local server start", t)
            log(f"local PostHog Endpoints server {server.url}")
            env = {
                **os.environ,
                "POSTHOG_HOST": server.url,
                "POSTHOG_PROJECT_ID": str(server.project_id),
                "POSTHOG_PERSONAL_API_KEY": server.api_key,
                "DEMO_DUCKDB_PATH": str(run_dir / "demo.duckdb"),
                "DAGSTER_HOME": str(home),
            }
            refresh_component_state(project, env, logs)
            t = lap("component state refresh", t)
            port = free_port()
            web = stack.enter_context(
                service(
                    "webserver",
                    [
                        str(BIN / "dagster-webserver"),
                        "-w",
                        "workspace.yaml",
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(port),
                    ],
                    cwd=project,
                    env=env,
                    logs=logs,
                )
            )
            daemon = stack.enter_context(
                service(
                    "daemon",
                    [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
                    cwd=project,
                    env=env,
                    logs=logs,
                )
            )
            stack.callback(terminate, web, daemon)  # on the way out: both stop side by side
            # The browser starts while the webserver loads the code location (it waits meanwhile).
            page = stack.enter_context(
                open_page(chromium, width=WINDOW[0], height=WINDOW[1], scale=WINDOW[2])
            )
            t = lap("browser start", t)
            api = GraphQL(f"http://127.0.0.1:{port}")
            wait_for_location(api, web, logs)
            t = lap("webserver + code location", t)
            log(f"dagster-webserver {api.url} (project {project})")
            api("mutation { setNuxSeen }")  # the one-time "join the community" dialog on localhost

            server.control.set_knobs(latency_by_endpoint={SLOW_ENDPOINT: SLOW_SECONDS})
            run_id, backfill_id, partitions = launch(api)
            log(f"launched run {run_id} and backfill {backfill_id} of {partitions}")
            wait_for_run(api, run_id)
            if backfill_id:
                wait_for_backfill(api, backfill_id, partitions)
            server.control.reset_knobs()
            t = lap("materialize (run + backfill)", t)
            log("run and backfill succeeded")

            context = Context(web=api.url, server=server, run_id=run_id, shots=shots, graphql=api)
            failures = run_checks(page, context, CHECKS, log=log, timings=timings)
            t = lap("browser checks", t)
    except KeyboardInterrupt:
        log(f"interrupted; every process was stopped. Logs: {logs}")
        return 2
    except Exception as exc:  # the set-up, not a UI finding: say what and where the logs are
        log(f"SET-UP FAILED: {type(exc).__name__}: {exc}")
        log(f"logs: {logs}")
        return 2

    timings["total"] = time.monotonic() - started
    for name, seconds in timings.items():
        log(f"  {name:<32} {seconds:6.1f} s")
    (state / "report.json").write_text(json.dumps({"failures": failures, "timings": timings}, indent=2))
    if failures:
        for name, message in failures.items():
            log(f"FAILED {name}: {message}")
        log(f"{len(failures)} of {len(CHECKS)} check(s) failed; screenshots in {shots}")
        return 1
    if args.update_docs_images:
        for path in publish(shots, args.docs):
            shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            log(f"updated {shown} ({path.stat().st_size // 1024} KB)")
    log(f"all {len(CHECKS)} checks passed; screenshots in {shots}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
