"""Shared fixtures: one local PostHog Endpoints server per test session (per xdist worker).

* ``local_server`` (session): a :class:`~endpoints_dagster.local.process.LocalServer`
  subprocess with ``--demo`` (project 1, key ``phx_local_demo_key``, the demo endpoints)
  over 20,000 generated events, on a free port, speaking the documented dialect. Use
  ``local_server.url``, ``.api_key``, ``.project_id``, ``.headers``, ``.dialect``. Create
  endpoints with unique names: the server is shared by every test of the session.
* ``current_server`` (session): the same, started with ``--dialect current`` (PostHog as
  deployed today, strict) and a list page size of ``CURRENT_PAGE_SIZE`` so that every list a
  client reads from it spans several pages. Started only by the tests that ask for it.
* ``any_dialect_server``: parametrized over ``documented`` and ``current``; it yields one of
  the two session servers. A test module runs its integration tests against both by
  overriding ``local_server`` with it (``server_control``, ``local_client`` and
  ``endpoint_factory`` then follow)::

      @pytest.fixture
      def local_server(any_dialect_server):
          return any_dialect_server

* ``current_client`` / ``current_control`` / ``current_factory``: ``local_client``,
  ``server_control`` and ``endpoint_factory`` for the current server, for tests written for
  that dialect alone (``tests/local/test_server_current_*.py``).
* ``run_body``: ``run_body(server, variables=None, **fields) -> dict``, a run body in the
  server's dialect (``variables_values`` or ``variables``), for tests that call the API directly.
* Every test starts with no dialect learnt by ``api_dialect="auto"`` clients (that memory is
  process-wide), so what a test counts does not depend on the tests before it.
* ``server_control`` (function): ``local_server.control`` (knobs and stats, see
  ``ServerControl``), with knobs reset and stats zeroed before and after the test, so a
  test that sets latency or faults cannot leak them into the next.
* ``local_client``: an ``httpx.Client`` on ``{url}/api/projects/{id}/`` with the key.
* ``endpoint_factory``: ``make(query, variables={"since": "2026-01-01"}, **fields) -> name``
  creates a uniquely named HogQL endpoint (deleted after the test). Variable ids are
  ``var-<code_name>``, or on the current server UUIDs (see ``variable_id``).
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

from endpoints_dagster.client.dialects.state import forget_learned_dialects
from endpoints_dagster.local.process import LocalServer, ServerControl

LOCAL_EVENTS = 20_000
CURRENT_PAGE_SIZE = 4  # small, so every list read from the current server spans several pages
DIALECTS = ("documented", "current")


def _session_server(tmp_path_factory: pytest.TempPathFactory, dialect: str) -> Iterator[LocalServer]:
    extra = ["--list-page-size", str(CURRENT_PAGE_SIZE)] if dialect == "current" else []
    server = LocalServer(
        tmp_path_factory.mktemp(f"local-posthog-{dialect}"),
        demo=True,
        events=LOCAL_EVENTS,
        dialect=dialect,
        extra_args=extra,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    yield from _session_server(tmp_path_factory, "documented")


@pytest.fixture(scope="session")
def current_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    yield from _session_server(tmp_path_factory, "current")


@pytest.fixture(params=DIALECTS)
def any_dialect_server(request: pytest.FixtureRequest) -> LocalServer:
    # "local_server" here is always the session fixture above: a module that overrides
    # local_server with this fixture must not get itself back.
    name = "current_server" if request.param == "current" else "_documented_server"
    return request.getfixturevalue(name)


@pytest.fixture(scope="session")
def _documented_server(local_server: LocalServer) -> LocalServer:
    return local_server


@pytest.fixture(autouse=True)
def _no_learnt_dialect() -> Iterator[None]:
    forget_learned_dialects()
    yield
    forget_learned_dialects()


@pytest.fixture
def run_body() -> Callable[..., dict[str, Any]]:
    def body(server: LocalServer, variables: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        out = dict(fields)
        if variables is not None:
            out["variables" if server.dialect == "current" else "variables_values"] = variables
        return out

    return body


def _control(server: LocalServer) -> Iterator[ServerControl]:
    control = server.control
    control.reset()
    try:
        yield control
    finally:
        control.reset()


def _client(server: LocalServer) -> Iterator[httpx.Client]:
    base = f"{server.url}/api/projects/{server.project_id}/"
    with httpx.Client(base_url=base, headers=server.headers, timeout=60) as client:
        yield client


@pytest.fixture
def server_control(local_server: LocalServer) -> Iterator[ServerControl]:
    yield from _control(local_server)


@pytest.fixture
def local_client(local_server: LocalServer) -> Iterator[httpx.Client]:
    yield from _client(local_server)


@pytest.fixture
def current_control(current_server: LocalServer) -> Iterator[ServerControl]:
    yield from _control(current_server)


@pytest.fixture
def current_client(current_server: LocalServer) -> Iterator[httpx.Client]:
    yield from _client(current_server)


VARIABLE_IDS = uuid.UUID("0b6f3c1e-5a7d-4e2b-9f80-1c2d3e4f5a6b")


def variable_id(code_name: str, dialect: str = "documented") -> str:
    """The fixed id of a test variable: ``var-<code_name>``, or on the current dialect a UUID
    (PostHog today refuses any other id for a variable the query uses)."""
    return str(uuid.uuid5(VARIABLE_IDS, code_name)) if dialect == "current" else f"var-{code_name}"


def hogql(query: str, variables: dict[str, Any] | None = None, dialect: str = "documented") -> dict[str, Any]:
    """A ``HogQLQuery`` body; each variable gets the fixed id ``variable_id(code_name, dialect)``."""
    body: dict[str, Any] = {"kind": "HogQLQuery", "query": query}
    if variables:
        ids = {code: variable_id(code, dialect) for code in variables}
        body["variables"] = {
            ids[code]: {"variableId": ids[code], "code_name": code, "value": value}
            for code, value in variables.items()
        }
    return body


_names = itertools.count(1)


def _factory(client: httpx.Client, dialect: str) -> Iterator[Callable[..., str]]:
    created: list[str] = []
    run_id = uuid.uuid4().hex[:8]

    def make(
        query: str, *, variables: dict[str, Any] | None = None, name: str | None = None, **fields: Any
    ) -> str:
        name = name or f"t_{run_id}_{next(_names)}"
        r = client.post(
            "endpoints/", json={"name": name, "query": hogql(query, variables, dialect), **fields}
        )
        assert r.status_code == 201, r.text
        created.append(name)
        return name

    yield make
    for name in created:
        client.delete(f"endpoints/{name}/")


@pytest.fixture
def endpoint_factory(local_server: LocalServer, local_client: httpx.Client) -> Iterator[Callable[..., str]]:
    yield from _factory(local_client, local_server.dialect)


@pytest.fixture
def current_factory(current_client: httpx.Client) -> Iterator[Callable[..., str]]:
    yield from _factory(current_client, "current")


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
