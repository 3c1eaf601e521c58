"""Helpers of the fault suite (the fixtures in ``conftest.py`` build on them).

* :class:`Pipeline`: the endpoint assets of one test with a filesystem IO manager and one instance,
  so a later failure can be checked to leave the earlier materialization (its event and its stored
  value) untouched.
* :class:`CuttingProxy`: a loopback TCP proxy to the local server; ``proxy.cut(n)`` makes the first
  response on each of the next ``n`` new connections stop halfway through its body.
* :func:`executions_by_query_id`: the server's executions of an endpoint counted per ``client_query_id``.
"""

from __future__ import annotations

import pickle
import socket
import threading
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from endpoints_dagster import EndpointSpec, PostHogEndpointsResource, build_endpoint_assets

ORDERED_QUERY = "SELECT event, count() AS n FROM events GROUP BY event ORDER BY event"


def resource_for(url: str, local_server, **fields: Any) -> PostHogEndpointsResource:
    settings: dict[str, Any] = dict(max_retries=15, poll_interval=0.05, poll_max_interval=0.2)
    settings.update(fields)
    return PostHogEndpointsResource(
        host=url, project_id=str(local_server.project_id), personal_api_key=local_server.api_key, **settings
    )


class Pipeline:
    """The endpoint assets of one test, one Dagster instance, values pickled under ``base_dir``."""

    def __init__(self, base_dir: Path, instance: dg.DagsterInstance, local_server) -> None:
        self.base_dir = base_dir
        self.instance = instance
        self.local_server = local_server

    def materialize(
        self,
        endpoints: list[EndpointSpec | str],
        *,
        url: str | None = None,
        resource: PostHogEndpointsResource | None = None,
        **fields: Any,
    ) -> dg.ExecuteInProcessResult:
        posthog = resource or resource_for(url or self.local_server.url, self.local_server, **fields)
        return dg.materialize(
            build_endpoint_assets(endpoints, schema_checks=False),
            resources={"posthog": posthog, "io_manager": dg.FilesystemIOManager(base_dir=str(self.base_dir))},
            instance=self.instance,
            raise_on_error=False,
        )

    def path(self, name: str) -> Path:
        return self.base_dir / "posthog" / name

    def stored(self, name: str) -> pd.DataFrame:
        with self.path(name).open("rb") as handle:
            return pickle.load(handle)

    def materialization_runs(self, name: str) -> list[str]:
        """Run ids of the asset's materializations, newest first."""
        records = self.instance.fetch_materializations(dg.AssetKey(["posthog", name]), limit=100).records
        return [record.run_id for record in records]

    def snapshot(self, name: str) -> tuple[bytes, list[str]]:
        """What a failed run must leave as it was: the stored value's bytes and the materializations."""
        return self.path(name).read_bytes(), self.materialization_runs(name)


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The step failure's message (the asset's ``dg.Failure`` description) and those of its causes."""
    failure = next(e for e in result.all_events if e.is_step_failure)
    error, texts = failure.step_failure_data.error, []  # type: ignore[union-attr]
    while error is not None:
        texts.append(error.message)
        error = error.cause
    return "\n".join(texts)


def executions_by_query_id(control, name: str) -> dict[str, int]:
    """How many times the server executed each client_query_id of this endpoint (since the stats reset)."""
    counts: dict[str, int] = {}
    for execution in control.executions(endpoint=name):
        counts[execution["client_query_id"]] = counts.get(execution["client_query_id"], 0) + 1
    return counts


class CuttingProxy:
    """Relays loopback TCP to ``upstream``; armed connections lose their first response halfway."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._lock = threading.Lock()
        self._armed = 0
        self.cuts = 0  # responses actually cut
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, name="cutting-proxy", daemon=True).start()

    def cut(self, connections: int = 1) -> None:
        with self._lock:
            self._armed += connections

    def _accept(self) -> None:
        while not self._closed:
            try:
                downstream, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            with self._lock:
                armed, self._armed = self._armed > 0, max(0, self._armed - 1)
                self._sockets += [downstream, upstream]
            threading.Thread(target=self._pipe, args=(downstream, upstream), daemon=True).start()
            threading.Thread(target=self._answer, args=(upstream, downstream, armed), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def _answer(self, upstream: socket.socket, downstream: socket.socket, armed: bool) -> None:
        if not armed:
            return self._pipe(upstream, downstream)
        buffer = b""
        try:
            while b"\r\n\r\n" not in buffer:
                data = upstream.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, _ = buffer.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            limit = len(head) + 4 + length // 2
            while len(buffer) < limit:
                data = upstream.recv(65536)
                if not data:
                    break
                buffer += data
            downstream.sendall(buffer[:limit])
            with self._lock:
                self.cuts += 1
        except OSError:
            pass
        finally:
            for sock in (downstream, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def close(self) -> None:
        self._closed = True
        self._server.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()
