"""Start the local server as a subprocess, for tests, the demo script and benchmarks.

:class:`LocalServer` runs ``python -m endpoints_dagster.local serve --port 0 ...``, waits
for its ``ready http://HOST:PORT`` line, and stops it with SIGTERM (or SIGKILL). The
server's stderr goes to ``<data_dir>/server.log``; a failed start raises with its tail.
:class:`ServerControl` wraps the ``/_local/`` control API (knobs and stats) with the admin
token, which ``LocalServer`` makes for each server it starts. The key and the admin token reach
the child through its environment, never its command line (which ``ps`` shows).

Example::

    with LocalServer(tmp_path, events=20_000) as server:
        server.control.set_knobs(latency_seconds=2)
        httpx.post(f"{server.url}/api/projects/{server.project_id}/endpoints/top_events/run/",
                   headers=server.headers, json={})
        assert server.control.executions()[0]["status"] == "completed"
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

DEFAULT_API_KEY = "phx_local_demo_key"
READY_PREFIX = "ready "


class LocalServerError(RuntimeError):
    """The server did not start (the message carries the tail of its log)."""


class ServerControl:
    """Client of the ``/_local/`` control API: it needs the server's admin token, not an API key."""

    def __init__(self, url: str, admin_token: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self._client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=timeout
        )

    def __repr__(self) -> str:
        return f"ServerControl(url={self.url!r})"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._client.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise LocalServerError(f"{method} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json()

    def knobs(self) -> dict[str, Any]:
        return self._call("GET", "/_local/knobs")

    def set_knobs(self, **changes: Any) -> dict[str, Any]:
        """e.g. ``set_knobs(latency_seconds=1.5, fault_rate=0.3, fault_kinds=["503"], rate_limit_per_minute=10)``."""
        return self._call("POST", "/_local/knobs", json=changes)

    def reset_knobs(self) -> dict[str, Any]:
        return self._call("POST", "/_local/knobs/reset")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_local/stats")

    def reset_stats(self) -> dict[str, Any]:
        return self._call("POST", "/_local/stats/reset")

    def reset(self) -> None:
        """Knobs back to the command-line values and stats to zero."""
        self.reset_knobs()
        self.reset_stats()

    def executions(
        self, client_query_id: str | None = None, endpoint: str | None = None
    ) -> list[dict[str, Any]]:
        """Executions since the last stats reset, optionally filtered."""
        rows = self.stats()["executions"]
        return [
            r
            for r in rows
            if (client_query_id is None or r["client_query_id"] == client_query_id)
            and (endpoint is None or r["endpoint"] == endpoint)
        ]

    def execution_log(self, client_query_id: str | None = None) -> list[dict[str, Any]]:
        """The durable execution log (SQLite), across restarts and resets."""
        params = {"client_query_id": client_query_id} if client_query_id else None
        return self._call("GET", "/_local/executions", params=params)["results"]

    def request_count(self, route: str) -> int:
        """Requests seen for ``"METHOD /route/template/"`` since the last reset."""
        return int(self.stats()["requests"].get(route, 0))

    def materialized_tables(self) -> list[str]:
        """Names of the materialized tables the engine holds (``mat_p{project}_{name}_v{n}``)."""
        return list(self._call("GET", "/_local/materialized_tables")["tables"])

    def clear_cache(self) -> int:
        return int(self._call("POST", "/_local/cache/clear")["deleted"])

    def wait_for_execution(
        self,
        client_query_id: str,
        statuses: Sequence[str] = ("completed", "failed", "cancelled"),
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Poll until the execution with this id reaches one of ``statuses``; raise on timeout."""
        deadline = time.monotonic() + timeout
        last: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            last = self.executions(client_query_id)
            if last and last[-1]["status"] in statuses:
                return last[-1]
            time.sleep(0.02)
        raise TimeoutError(f"execution {client_query_id!r} not in {list(statuses)} after {timeout}s: {last}")

    def close(self) -> None:
        self._client.close()


class LocalServer:
    """A local server subprocess on a free port. Use as a context manager or start()/stop().

    ``dialect="current"`` starts it as PostHog today (``--dialect current``); other flags go in
    ``extra_args`` (e.g. ``["--list-page-size", "3"]``).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        api_key: str = DEFAULT_API_KEY,
        project_id: int = 1,
        demo: bool = True,
        events: int | None = None,
        seed: int | None = None,
        extra_args: Sequence[str] = (),
        host: str = "127.0.0.1",
        startup_timeout: float = 180.0,
        env: dict[str, str] | None = None,
        dialect: str = "documented",
        admin_token: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.api_key = api_key
        # The /_local/ credential of the child (ServerControl uses it); random unless given.
        self.admin_token = admin_token or secrets.token_urlsafe(32)
        self.project_id = project_id
        self.demo = demo
        self.events = events
        self.seed = seed
        self.extra_args = list(extra_args)
        self.host = host
        self.startup_timeout = startup_timeout
        self.env = env
        self.dialect = dialect
        self.url: str = ""
        self.process: subprocess.Popen[str] | None = None
        self._control: ServerControl | None = None
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None
        self.stdout_lines: list[str] = []  # everything the server printed on stdout (only the ready line)

    def __repr__(self) -> str:  # never shows the key
        return f"LocalServer(url={self.url!r}, data_dir={str(self.data_dir)!r}, pid={self.pid})"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def control(self) -> ServerControl:
        if self._control is None:
            if not self.url:
                raise LocalServerError("the server is not running; call start() first")
            self._control = ServerControl(self.url, self.admin_token)
        return self._control

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "endpoints_dagster.local",
            "serve",
            "--host",
            self.host,
            "--port",
            "0",
            "--data",
            str(self.data_dir),
            "--project-id",
            str(self.project_id),
        ]
        if self.demo:
            cmd.append("--demo")
        if self.events is not None:
            cmd += ["--events", str(self.events)]
        if self.seed is not None:
            cmd += ["--seed", str(self.seed)]
        if self.dialect != "documented":
            cmd += ["--dialect", self.dialect]
        return cmd + self.extra_args

    def secrets_env(self) -> dict[str, str]:
        """The key and the admin token, for the child's environment (not its command line)."""
        return {"ENDPOINTS_LOCAL_API_KEYS": self.api_key, "ENDPOINTS_LOCAL_ADMIN_TOKEN": self.admin_token}

    def start(self) -> LocalServer:
        if self.process is not None and self.process.poll() is None:
            raise LocalServerError("already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._ready.clear()
        self.url = ""
        self.stdout_lines = []
        log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - handed to the child
        try:
            self.process = subprocess.Popen(
                self.command(),
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                text=True,
                env={**os.environ, **self.secrets_env(), **(self.env or {})},
            )
        finally:
            log.close()
        self._reader = threading.Thread(target=self._read_stdout, name="local-server-stdout", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._ready.wait(0.05):
            if self.process.poll() is not None:
                raise LocalServerError(
                    f"the local server exited with status {self.process.returncode}:\n{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise LocalServerError(
                    f"the local server was not ready after {self.startup_timeout}s:\n{self._log_tail()}"
                )
        return self

    def _read_stdout(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:  # keep draining so the child never blocks on a full pipe
            self.stdout_lines.append(line.rstrip("\n"))
            if not self._ready.is_set() and line.startswith(READY_PREFIX):
                self.url = line[len(READY_PREFIX) :].strip()
                self._ready.set()

    def _log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(
                self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            )
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then wait (SIGKILL after ``timeout``); returns the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self._cleanup()

    def kill(self) -> int | None:
        """SIGKILL, as a crash would."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        return self._cleanup()

    def _cleanup(self) -> int | None:
        assert self.process is not None
        code = self.process.returncode
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self._control is not None:
            self._control.close()
            self._control = None
        return code

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
