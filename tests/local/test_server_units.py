"""Unit tests of the local server's parts, and of the app over real HTTP on a test-double engine.

The double engine (below) answers fixed rows and can be told to fail, so these tests pin
the app's own logic (auth order, variable precedence, cache keys, refresh modes, the
worker pool, error shapes) without chDB; the integration tests (test_server_*.py) run
the same routes against the real engine in a subprocess.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from endpoints_dagster.local import api_errors
from endpoints_dagster.local.dialects.documented import Dialect
from endpoints_dagster.local.server.app import ServerConfig, build_state, create_app
from endpoints_dagster.local.server.auth import Authenticator, has_scope, parse_key_spec
from endpoints_dagster.local.server.faults import Knobs, RateLimiter, parse_knobs
from endpoints_dagster.local.services.endpoint_runs import EngineBinding, RunService
from endpoints_dagster.local.services.result_cache import cache_key
from endpoints_dagster.local.services.stored_query import comparable, validate_query
from endpoints_dagster.local.storage.store import KeyRow, Store, VersionRow


# -- a test double for the engine ----------------------------------------------------------------
class DoubleQueryError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DoubleCancelled(Exception):
    pass


@dataclass
class Output:
    columns: list[str]
    types: list[list[str]]
    rows: list[list[Any]]
    has_more: bool
    limit: int
    offset: int
    rows_read: int = 0
    bytes_read: int = 0
    elapsed: float = 0.0


class DoubleEngine:
    """250 rows of ``[i, repr(variables)]``; ``BROKEN`` in the query fails; ``WAIT`` blocks until cancelled."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.tables: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def normalise(self, hogql: str) -> str:
        return " ".join(hogql.split())

    def run(
        self,
        hogql,
        *,
        variables=None,
        filters=None,
        limit=None,
        offset=0,
        cancel=None,
        on_progress=None,
        project_id=1,
    ):
        with self.lock:
            self.calls.append(
                {"hogql": hogql, "variables": variables, "filters": filters, "limit": limit, "offset": offset}
            )
        if "BROKEN" in hogql:
            raise DoubleQueryError("Syntax error: unexpected BROKEN")
        if "WAIT" in hogql:
            while not cancel.wait(0.01):
                pass
            raise DoubleCancelled()
        rows = [[i, repr(sorted((variables or {}).items()))] for i in range(250)]
        effective = limit or 100
        return Output(
            ["i", "vars"],
            [["i", "UInt64"], ["vars", "String"]],
            rows[offset : offset + effective],
            offset + effective < len(rows),
            effective,
            offset,
        )

    def materialize(self, table, hogql, variables, *, project_id=1):
        if "MATFAIL" in hogql:
            raise DoubleQueryError("cannot build")
        self.tables[table] = dict(variables)
        return 1

    def run_materialized(self, table, *, limit=None, offset=0, project_id=1):
        return Output(["table"], [["table", "String"]], [[table]], False, limit or 100, offset)

    def drop_table(self, table, *, project_id=1):
        self.tables.pop(table, None)

    def materialized_tables(self):
        return sorted(self.tables)

    def close(self):
        pass


class ThreadServer:
    """The real app and uvicorn on a free port, in a thread, with the double engine."""

    def __init__(self, data_dir: Path, **config: Any) -> None:
        self.engine = DoubleEngine()
        keys = [parse_key_spec(s, 1) for s in ("k_all", "k_read=endpoint:read", "k_p2@2")]
        self.state = build_state(
            ServerConfig(data_dir=data_dir, api_keys=keys, **config),
            EngineBinding(self.engine, DoubleQueryError, DoubleCancelled),
        )
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(
            uvicorn.Config(create_app(self.state), log_level="warning", lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.runner.cancel_all()
        self.server.should_exit = True
        self.thread.join(10)
        self.state.close()

    def client(self, key: str = "k_all", project: int = 1) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/api/projects/{project}/",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with ThreadServer(tmp_path_factory.mktemp("units")) as s:
        yield s


@pytest.fixture
def http(server: ThreadServer):
    with server.client() as c:
        yield c


_counter = iter(range(1_000_000))


def make_endpoint(http: httpx.Client, query: str = "select {variables.a}", **extra: Any) -> str:
    name = f"unit_{next(_counter)}"
    body = {
        "name": name,
        "query": {
            "kind": "HogQLQuery",
            "query": query,
            "variables": {"var-a": {"variableId": "var-a", "code_name": "a", "value": 1}},
        },
        **extra,
    }
    r = http.post("endpoints/", json=body)
    assert r.status_code == 201, r.text
    return name


# -- pure units ---------------------------------------------------------------------------------
def test_key_spec_parsing_defaults_and_scopes():
    spec = parse_key_spec("phx_abc", 3)
    assert spec.scopes == {"endpoint:read", "endpoint:write"} and spec.projects == {3}
    spec = parse_key_spec("phx_ro=endpoint:read@1,2", 3)
    assert spec.scopes == {"endpoint:read"} and spec.projects == {1, 2}
    assert "phx_ro" not in repr(spec)
    with pytest.raises(ValueError, match="unknown scope") as info:
        parse_key_spec("phx_secret=endpoint:delete", 1)
    assert "phx_secret" not in str(info.value)


def test_write_scope_implies_read():
    key = KeyRow(1, "h", frozenset({"endpoint:write"}), frozenset({1}), 1)
    assert has_scope(key, "endpoint:read") and has_scope(key, "endpoint:write")
    ro = KeyRow(2, "h2", frozenset({"endpoint:read"}), frozenset({1}), 1)
    assert not has_scope(ro, "endpoint:write")


def test_authenticator_checks_in_posthog_order(tmp_path: Path):
    auth = Authenticator(Store(tmp_path / "s.sqlite3"))
    auth.register(parse_key_spec("k1=endpoint:read@1", 1))
    auth.register(parse_key_spec("k2@2", 1))
    with pytest.raises(api_errors.APIError) as e:
        auth.authenticate(None)
    assert (e.value.status, e.value.code) == (401, "not_authenticated")
    with pytest.raises(api_errors.APIError) as e:
        auth.authenticate("Bearer nope")
    assert (e.value.status, e.value.code) == (401, "authentication_failed")
    key = auth.authenticate("Bearer k1")
    with pytest.raises(api_errors.APIError) as e:
        auth.authorize(key, project_id=2, scope="endpoint:write")
    assert e.value.detail == "API key missing required scope 'endpoint:write'"
    with pytest.raises(api_errors.APIError) as e:
        auth.authorize(key, project_id=2, scope="endpoint:read")
    assert e.value.status == 403 and "ID 2" in e.value.detail
    with pytest.raises(api_errors.APIError) as e:
        auth.authorize(key, project_id=99, scope="endpoint:read")
    assert e.value.status == 404


def test_store_keeps_only_key_hashes(tmp_path: Path):
    store = Store(tmp_path / "s.sqlite3")
    Authenticator(store).register(parse_key_spec("phx_very_secret_value", 1))
    raw = (tmp_path / "s.sqlite3").read_bytes() + (tmp_path / "s.sqlite3-wal").read_bytes()
    assert b"phx_very_secret_value" not in raw


def test_rate_limiter_sliding_window_reports_wait():
    limiter = RateLimiter()
    for _ in range(3):
        limiter.check(1, 3)
    with pytest.raises(api_errors.APIError) as e:
        limiter.check(1, 3)
    assert e.value.status == 429 and e.value.type == "throttled_error"
    assert e.value.detail.startswith("Request was throttled. Expected available in ")
    seconds = int(e.value.detail.split(" in ")[1].split()[0])
    assert 1 <= seconds <= 60
    limiter.check(2, 3)  # per key
    limiter.check(1, None)  # off


def test_knobs_validation_names_the_field():
    knobs = parse_knobs(
        Knobs(), {"latency_seconds": 1.5, "fault_kinds": "503,drop", "latency_by_endpoint": {"a": 2}}
    )
    assert (
        knobs.latency_for("a") == 2 and knobs.latency_for("b") == 1.5 and knobs.fault_kinds == ("503", "drop")
    )
    for bad, field in [
        ({"fault_rate": 2}, "fault_rate"),
        ({"fault_kinds": ["500"]}, "fault_kinds"),
        ({"nope": 1}, "nope"),
    ]:
        with pytest.raises(ValueError, match=field):
            parse_knobs(Knobs(), bad)


def test_query_expansion_and_comparison():
    short = validate_query({"kind": "HogQLQuery", "query": "select 1"})
    assert short["variables"] is None and short["explain"] is None and short["version"] is None
    spaced = validate_query({"kind": "HogQLQuery", "query": "select   1\n", "tags": None})
    norm = lambda q: " ".join(q.split())
    assert comparable(short, norm) == comparable(spaced, norm)
    assert comparable(short, norm) != comparable(
        validate_query({"kind": "HogQLQuery", "query": "select 2"}), norm
    )
    with pytest.raises(api_errors.APIError, match="HogQLQuery endpoints only"):
        validate_query({"kind": "TrendsQuery"})
    with pytest.raises(api_errors.APIError, match="string, number"):
        validate_query(
            {"kind": "HogQLQuery", "query": "x", "variables": {"v": {"code_name": "a", "value": {"x": 1}}}}
        )


def test_variable_precedence_values_then_override_then_saved():
    version = VersionRow(
        "id",
        "e",
        1,
        validate_query(
            {
                "kind": "HogQLQuery",
                "query": "q",
                "variables": {
                    "v1": {"code_name": "a", "value": "saved-a"},
                    "v2": {"code_name": "b", "value": "saved-b"},
                    "v3": {"code_name": "c", "value": "saved-c"},
                },
            }
        ),
        True,
        0.0,
        None,
    )
    req = Dialect().parse_run(
        {
            "variables_values": {"a": "values-a"},
            "variables_override": {"v1": {"value": "override-a"}, "v2": {"value": "override-b"}},
        },
        {},
    )
    assert RunService.resolve_variables(version, req) == {"a": "values-a", "b": "override-b", "c": "saved-c"}
    with pytest.raises(api_errors.APIError) as e:
        RunService.resolve_variables(
            version, Dialect().parse_run({"variables_values": {"zz": 1, "a": 1}}, {})
        )
    assert e.value.detail == "Unknown variable(s): zz" and e.value.attr == "variables_values"


def test_run_body_types_are_checked():
    d = Dialect()
    cases = [
        ({"refresh": "sometimes"}, "refresh"),
        ({"limit": "10"}, "limit"),
        ({"offset": 5}, "offset"),
        ({"variables_values": [1]}, "variables_values"),
        ({"filters_override": "x"}, "filters_override"),
        ({"client_query_id": 5}, "client_query_id"),
        ({"variables_override": {"v": 1}}, "variables_override"),
    ]
    for body, attr in cases:
        with pytest.raises(api_errors.APIError) as e:
            d.parse_run(body, {})
        assert e.value.status == 400 and e.value.attr == attr, body
    with pytest.raises(api_errors.PlainError) as plain:
        d.parse_run({}, {"version": "abc"})
    assert plain.value.body() == {"error": "Invalid version parameter: abc"}
    assert d.parse_run({"version": "3"}, {"version": "1"}).version == 3


def test_cache_key_covers_every_input():
    base = dict(
        project_id=1,
        endpoint_id="e",
        version=1,
        variables={"a": 1},
        filters=None,
        limit=None,
        offset=None,
        materialized=False,
    )
    keys = {cache_key(**base)}
    for change in [
        {"project_id": 2},
        {"endpoint_id": "f"},
        {"version": 2},
        {"variables": {"a": 2}},
        {"filters": {"date_from": "2026-01-01"}},
        {"limit": 10},
        {"offset": 0},
        {"materialized": True},
    ]:
        keys.add(cache_key(**{**base, **change}))
    assert len(keys) == 9
    assert cache_key(**base) == cache_key(**{**base, "variables": {"a": 1}})


# -- the app over HTTP, with the double engine -------------------------------------------------
def test_cache_hit_and_modes(server: ThreadServer, http: httpx.Client):
    name = make_endpoint(http)
    first = http.post(f"endpoints/{name}/run/", json={})
    assert first.status_code == 200 and first.json()["is_cached"] is False
    second = http.post(f"endpoints/{name}/run/", json={})
    assert second.json()["is_cached"] is True and second.json()["cache_key"] == first.json()["cache_key"]
    forced = http.post(f"endpoints/{name}/run/", json={"refresh": "force_blocking"})
    assert forced.json()["is_cached"] is False
    other = http.post(f"endpoints/{name}/run/", json={"refresh": "force_cache", "variables_values": {"a": 2}})
    assert other.status_code == 200 and other.json()["results"] is None and other.json()["is_cached"] is False


def test_queries_share_the_bounded_pool_fairly_between_projects(server: ThreadServer, http: httpx.Client):
    """One project holds at most half the workers; another project's queries take the rest."""
    server.state.stats.reset()
    runner = server.state.runner
    started: list[tuple[httpx.Client, str]] = []
    with server.client(key="k_p2", project=2) as other:
        for client in (http, other):
            name = make_endpoint(client, query="select WAIT {variables.a}")
            for i in range(runner.workers // 2 + 2):  # more than its share: two wait in its line
                qid = f"wait-{name}-{i}"
                body = {"refresh": "force_async", "client_query_id": qid}
                assert client.post(f"endpoints/{name}/run/", json=body).status_code == 202
                started.append((client, qid))
            deadline = time.monotonic() + 10
            expected = runner.workers // 2 * (1 if client is http else 2)
            while server.state.stats.snapshot()["running_executions"] < expected:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert server.state.stats.snapshot()["running_executions"] == expected
        for client, qid in started:
            assert client.delete(f"query/{qid}/").json() == {"message": "Query task revoked"}
        for client, qid in started:
            while client.get(f"query/{qid}/").json()["query_status"]["error"] is not True:
                assert time.monotonic() < deadline
                time.sleep(0.01)
    assert server.state.stats.snapshot()["max_concurrent_executions"] == runner.workers == 8


def test_query_error_is_400_with_engine_message(http: httpx.Client):
    name = make_endpoint(http, query="select BROKEN {variables.a}")
    r = http.post(f"endpoints/{name}/run/", json={})
    assert r.status_code == 400 and r.json()["detail"] == "Syntax error: unexpected BROKEN"
    r = http.post(f"endpoints/{name}/run/", json={"refresh": "force_async", "client_query_id": f"{name}-q"})
    assert r.status_code == 202
    deadline = time.monotonic() + 10
    while (s := http.get(f"query/{name}-q/")).status_code == 202:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert (
        s.status_code == 400
        and s.json()["query_status"]["error_message"] == "Syntax error: unexpected BROKEN"
    )


def test_materialization_with_double_engine(server: ThreadServer, http: httpx.Client):
    name = make_endpoint(http, is_materialized=True)
    deadline = time.monotonic() + 10
    while (ep := http.get(f"endpoints/{name}/").json())["materialization"]["status"] == "Running":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert ep["materialization"]["status"] == "Completed" and ep["is_materialized"] is True
    table = f"mat_p1_{name}_v1"
    assert server.engine.tables[table] == {"a": 1}
    run = http.post(f"endpoints/{name}/run/", json={}).json()
    assert run["endpoint_materialized"] is True and run["results"] == [[table]]
    other = http.post(f"endpoints/{name}/run/", json={"variables_values": {"a": 5}}).json()
    assert "endpoint_materialized" not in other  # other values than the built ones run inline
    assert http.delete(f"endpoints/{name}/").status_code == 204
    assert table not in server.engine.tables


def test_unexpected_exception_is_500_json(
    server: ThreadServer, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
):
    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(server.state.store, "list_endpoints", boom)
    r = http.get("endpoints/")
    assert r.status_code == 500
    assert r.json() == {
        "type": "server_error",
        "code": "error",
        "detail": "A server error occurred.",
        "attr": None,
    }


def test_cli_arguments():
    from endpoints_dagster.local.cli import build_parser

    args = build_parser().parse_args(
        [
            "serve",
            "--rate-limit",
            "240/min",
            "--fault-kinds",
            "503,drop",
            "--port",
            "0",
            "--api-key",
            "a",
            "--api-key",
            "b=endpoint:read@2",
        ]
    )
    assert (args.rate_limit, args.fault_kinds, args.port, args.api_key) == (
        240,
        ("503", "drop"),
        0,
        ["a", "b=endpoint:read@2"],
    )
    assert (args.host, args.dialect, args.workers) == ("127.0.0.1", "documented", 8)
    for bad in (
        ["--rate-limit", "5/hour"],
        ["--fault-kinds", "500"],
        ["--fault-rate", "1.5"],
        ["--workers", "0"],
    ):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["serve", *bad])
