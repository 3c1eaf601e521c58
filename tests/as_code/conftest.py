"""Fixtures for endpoints as code: a client on the local server, a folder, the CLI in-process.

* ``as_code_client``: an ``EndpointsClient`` on ``local_server`` (a test module overrides
  ``local_server`` with ``any_dialect_server`` to run on both dialects).
* ``prefix``: a unique name prefix; endpoints named with it are deleted after the test.
* ``folder``: an empty folder for endpoint files; ``write(name, text)`` writes ``NAME.sql`` in it.
* ``cli(*args) -> (exit code, stdout, stderr)``: ``python -m endpoints_dagster`` in-process, with
  the connection in ``POSTHOG_HOST``, ``POSTHOG_PROJECT_ID`` and ``POSTHOG_PERSONAL_API_KEY``.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from endpoints_dagster import EndpointNotFoundError, EndpointsClient
from endpoints_dagster.as_code.cli import main
from endpoints_dagster.local.process import LocalServer


@pytest.fixture
def as_code_client(local_server: LocalServer) -> Iterator[EndpointsClient]:
    with EndpointsClient(local_server.url, local_server.project_id, local_server.api_key) as client:
        yield client


@pytest.fixture
def prefix(as_code_client: EndpointsClient) -> Iterator[str]:
    value = f"ac{uuid.uuid4().hex[:8]}_"
    yield value
    for endpoint in as_code_client.list_endpoints():
        if endpoint.name.startswith(value) or endpoint.name.startswith("check-"):
            try:
                as_code_client.delete_endpoint(endpoint.name)
            except EndpointNotFoundError:
                pass


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "endpoints"
    path.mkdir()
    return path


@pytest.fixture
def write(folder: Path) -> Callable[[str, str], Path]:
    def write_file(name: str, text: str) -> Path:
        path = folder / f"{name}.sql"
        path.write_text(text, encoding="utf-8")
        return path

    return write_file


@pytest.fixture
def cli(
    local_server: LocalServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    monkeypatch.setenv("POSTHOG_HOST", local_server.url)
    monkeypatch.setenv("POSTHOG_PROJECT_ID", str(local_server.project_id))
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", local_server.api_key)

    def run(*args: str | Path) -> tuple[int, str, str]:
        out = io.StringIO()
        capsys.readouterr()
        code = main([str(a) for a in args], out=out)
        return code, out.getvalue(), capsys.readouterr().err

    return run
