"""The environment the README's Python blocks run in (pytest-markdown-docs, `--markdown-docs`).

Each block runs as a reader would paste it: in an empty folder, with `POSTHOG_HOST`,
`POSTHOG_PROJECT_ID` and `POSTHOG_PERSONAL_API_KEY` pointing at a local PostHog Endpoints server
(`--demo`, one per session) and `DUCKDB_PATH` in that folder. Tests other than README blocks are
left alone: the server starts only when a block asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from endpoints_dagster.local.process import LocalServer

README_EVENTS = 20_000


def _is_markdown_block(node: pytest.Item) -> bool:
    return type(node).__name__ == "MarkdownInlinePythonItem"


@pytest.fixture(scope="session")
def readme_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """The local server the README's blocks talk to, as `endpoints-local-server serve --demo` starts it."""
    server = LocalServer(tmp_path_factory.mktemp("readme-posthog"), demo=True, events=README_EVENTS)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def readme_env(server: LocalServer, folder: Path) -> dict[str, str]:
    """The variables a reader sets to point the README's code at a PostHog (here: the local server)."""
    return {
        "POSTHOG_HOST": server.url,
        "POSTHOG_PROJECT_ID": str(server.project_id),
        "POSTHOG_PERSONAL_API_KEY": server.api_key,
        "DUCKDB_PATH": str(folder / "warehouse.duckdb"),
    }


@pytest.fixture(autouse=True)
def _readme_block_environment(request: pytest.FixtureRequest) -> None:
    if not _is_markdown_block(request.node):
        return
    server: LocalServer = request.getfixturevalue("readme_server")
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    folder: Path = request.getfixturevalue("tmp_path")
    for name, value in readme_env(server, folder).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(folder)
