"""Network: table functions that reach other hosts (SSRF) are refused in every spelling.

The attack found: an endpoint created with materialization on was built without ``readonly``,
so ``url(...)`` fetched what the attacker named. Every network table function, in every spelling,
is refused when the endpoint is created, plain or materialized, and no request leaves the server
(a listening socket on this machine counts connections).
"""

from __future__ import annotations

import socket
import threading

import pytest
from attack_helpers import assert_refused, endpoint_body, spellings, table_function_spellings

pytestmark = pytest.mark.integration

FUNCTIONS = {
    "url": "'http://127.0.0.1:{port}/x', 'LineAsString'",
    "urlCluster": "'default', 'http://127.0.0.1:{port}/x'",
    "s3": "'http://127.0.0.1:{port}/bucket/x', 'CSV'",
    "remote": "'127.0.0.1:{port}', 'system', 'one'",
    "remoteSecure": "'127.0.0.1:{port}', 'system', 'one'",
    "mysql": "'127.0.0.1:{port}', 'db', 't', 'u', 'p'",
    "postgresql": "'127.0.0.1:{port}', 'db', 't', 'u', 'p'",
    "hdfs": "'hdfs://127.0.0.1:{port}/x', 'CSV'",
    "azureBlobStorage": "'http://127.0.0.1:{port}', 'c', 'x'",
    "mongodb": "'127.0.0.1:{port}', 'db', 'c', 'u', 'p', 'x String'",
}


@pytest.fixture(scope="module")
def listener():
    """A socket that counts connection attempts: nothing may ever reach it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.2)
    seen: list[tuple] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, addr = sock.accept()
            except OSError:
                continue
            seen.append(addr)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1], seen
    stop.set()
    thread.join(2)
    sock.close()


CASES = {
    f"{name} {how}": (name, sql)
    for name, args in FUNCTIONS.items()
    for how, sql in table_function_spellings(name, args).items()
    if how in ("plain", "backquoted", "double-quoted", "upper case", "CTE", "UNION")
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("materialized", [False, True], ids=["run", "materialized"])
def test_network_table_functions_are_refused(case, materialized, attacker, listener):
    port, seen = listener
    name, sql = CASES[case]
    body = endpoint_body(sql.replace("{port}", str(port)), is_materialized=materialized)
    assert_refused(attacker.post("endpoints/", json=body), name)
    assert seen == []


URL_SCALAR = spellings("url", "'http://127.0.0.1:1/'")


@pytest.mark.parametrize("sql", URL_SCALAR.values(), ids=URL_SCALAR.keys())
def test_url_as_a_function_is_refused(sql, attacker):
    assert_refused(attacker.post("endpoints/", json=endpoint_body(sql)), "url")


def test_dictionary_and_executable_sources_are_refused(attacker):
    for sql, needle in [
        ("SELECT dictGet('d', 'x', toUInt64(1)) AS x", "dictGet"),
        ("SELECT * FROM executable('id', 'TSV', 'x String')", "executable"),
        ("SELECT * FROM dictionary('d')", "dictionary"),
        ("SELECT * FROM jdbc('jdbc:x', 't')", "jdbc"),
    ]:
        assert_refused(attacker.post("endpoints/", json=endpoint_body(sql)), needle)


def test_the_engine_refuses_network_and_file_table_functions_even_without_the_allowlist(tmp_path, listener):
    """Defence in depth: the settings every caller's query carries (``readonly`` first) stop these
    table functions inside ClickHouse, were a spelling ever to pass both allowlist checks."""
    from endpoints_dagster.local.engine.clickhouse import Engine, EngineQueryError

    port, seen = listener
    with Engine(tmp_path, events=100) as engine:
        settings = engine.limits.settings(readonly=True)
        for sql in (
            f"SELECT * FROM url('http://127.0.0.1:{port}/x', 'LineAsString')",
            f"SELECT * FROM remote('127.0.0.1:{port}', 'system', 'one')",
            "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        ):
            with pytest.raises(EngineQueryError, match="readonly"):
                engine._execute(f"{sql} SETTINGS {settings}", {}, database=engine._project_db(1))
    assert seen == []
