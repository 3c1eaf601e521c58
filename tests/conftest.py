"""Shared fixtures: one local PostHog Endpoints server per test session (per xdist worker).

* ``local_server`` (session): a :class:`~endpoints_dagster.local.process.LocalServer`
  subprocess with ``--demo`` (project 1, key ``phx_local_demo_key``, the demo endpoints)
  over 20,000 generated events, on a free port. Use ``local_server.url``,
  ``.api_key``, ``.project_id``, ``.headers``. Create endpoints with unique names: the
  server is shared by every test of the session.
* ``server_control`` (function): ``local_server.control`` (knobs and stats, see
  ``ServerControl``), with knobs reset and stats zeroed before and after the test, so a
  test that sets latency or faults cannot leak them into the next.
* ``local_client``: an ``httpx.Client`` on ``{url}/api/projects/{id}/`` with the key.
* ``endpoint_factory``: ``make(query, variables={"since": "2026-01-01"}, **fields) -> name``
  creates a uniquely named HogQL endpoint (deleted after the test).
* ``wait_until``: ``wait_until(predicate, timeout=30)`` polls until ``predicate()`` is
  truthy and returns its value (a bounded poll, never a timing assertion).

Example::

    def test_top_events(local_server, local_client):
        r = local_client.post("endpoints/top_events/run/", json={})
        assert r.status_code == 200
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from endpoints_dagster.local.process import LocalServer, ServerControl

LOCAL_EVENTS = 20_000


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = LocalServer(tmp_path_factory.mktemp("local-posthog"), demo=True, events=LOCAL_EVENTS)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server_control(local_server: LocalServer) -> Iterator[ServerControl]:
    control = local_server.control
    control.reset()
    try:
        yield control
    finally:
        control.reset()


@pytest.fixture
def local_client(local_server: LocalServer) -> Iterator[httpx.Client]:
    base = f"{local_server.url}/api/projects/{local_server.project_id}/"
    with httpx.Client(base_url=base, headers=local_server.headers, timeout=60) as client:
        yield client


def hogql(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``HogQLQuery`` body; each variable gets the fixed id ``var-<code_name>``."""
    body: dict[str, Any] = {"kind": "HogQLQuery", "query": query}
    if variables:
        body["variables"] = {
            f"var-{code}": {"variableId": f"var-{code}", "code_name": code, "value": value}
            for code, value in variables.items()
        }
    return body


_names = itertools.count(1)


@pytest.fixture
def endpoint_factory(local_client: httpx.Client) -> Iterator[Callable[..., str]]:
    created: list[str] = []
    run_id = uuid.uuid4().hex[:8]

    def make(query: str, *, variables: dict[str, Any] | None = None, name: str | None = None, **fields: Any) -> str:
        name = name or f"t_{run_id}_{next(_names)}"
        r = local_client.post("endpoints/", json={"name": name, "query": hogql(query, variables), **fields})
        assert r.status_code == 201, r.text
        created.append(name)
        return name

    yield make
    for name in created:
        local_client.delete(f"endpoints/{name}/")


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    def wait(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.02) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
            time.sleep(interval)

    return wait
