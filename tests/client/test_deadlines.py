"""``run_timeout`` bounds a whole call: body reads, paging and lists followed by ``next`` links.

The trickling server is a real socket server (one thread per connection): httpx's read timeout
bounds each chunk, so only a deadline checked between chunks ends a body sent a byte at a time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from client_fakes import BASE, HOST, KEY, run_json

from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.client.errors import PaginationError, QueryTimeoutError
from endpoints_dagster.frames.pandas import to_dataframe

RUN = f"{BASE}daily_signups/run/"


class _Trickle(BaseHTTPRequestHandler):
    """Runs answer 200 and then a byte every 0.2 s; anything else (the cancel) answers at once."""

    protocol_version = "HTTP/1.1"
    stop: threading.Event
    cancels: list[str]
    stall_after: float | None = None  # stop sending (but keep the connection open) after this long

    def _trickle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        self.wfile.write(b'{"results": [')
        started = time.monotonic()
        try:
            while not self.stop.wait(0.2):
                if self.stall_after is not None and time.monotonic() - started > self.stall_after:
                    continue
                self.wfile.write(b" ")
                self.wfile.flush()
        except OSError:  # the client gave up and closed the connection
            pass
        self.close_connection = True

    def do_GET(self) -> None:
        self._trickle()

    def do_POST(self) -> None:
        self._trickle()

    def do_DELETE(self) -> None:
        type(self).cancels.append(self.path)
        body = b'{"message": "Query task revoked"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def trickling() -> Iterator[tuple[str, type[_Trickle]]]:
    handler = type("Handler", (_Trickle,), {"stop": threading.Event(), "cancels": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        handler.stop.set()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("variables", [None, {"since": "2026-01-01"}], ids=["GET", "POST"])
def test_a_trickling_body_cannot_hold_a_run_past_its_deadline(trickling, variables):
    url, handler = trickling
    timeout = 2.0
    with EndpointsClient(
        url, 42, KEY, run_timeout=timeout, max_retries=2, api_dialect="documented"
    ) as client:
        started = time.monotonic()
        with pytest.raises(QueryTimeoutError, match=r"did not finish within 2 s") as info:
            client.run_endpoint("daily_signups", variables=variables)
        elapsed = time.monotonic() - started
    # A deadline, not a speed target: the byte every 0.2 s would otherwise hold the call for ever.
    assert elapsed < timeout + 3, elapsed
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    if variables:  # a POST carries a client_query_id: the query is stopped in PostHog too
        assert len(handler.cancels) == 1 and "/query/" in handler.cancels[0]


def test_a_body_that_stalls_just_before_the_deadline_ends_at_the_deadline(trickling):
    # httpx fixes a body's read timeout when the body starts (here: the 3 s left), so a body that
    # trickles until just before the deadline and then stalls would hold the call about 6 s.
    url, handler = trickling
    handler.stall_after = 2.6
    timeout = 3.0
    with EndpointsClient(url, 42, KEY, run_timeout=timeout, api_dialect="documented") as client:
        started = time.monotonic()
        with pytest.raises(QueryTimeoutError, match=r"did not finish within 3 s"):
            client.run_endpoint("daily_signups", variables={"since": "2026-01-01"})
        elapsed = time.monotonic() - started
    assert elapsed < timeout + 1.5, elapsed  # a deadline, not a speed target: 2.6 s + 3 s without it
    assert len(handler.cancels) == 1


def test_an_endless_next_chain_fails_at_the_deadline_saying_what_happened(client, api, fake_time):
    calls = 0

    def page(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        fake_time.now += 0.05  # each page takes 50 ms
        body = {"count": 10**9, "next": f"{HOST}{BASE}?offset={calls}", "results": []}
        return httpx.Response(200, json=body)

    api.get(BASE).mock(side_effect=page)
    started = fake_time.now
    with pytest.raises(PaginationError) as info:
        client.list_endpoints()  # run_timeout=60 in the test client
    message = str(info.value)
    assert "timed out after 60 s" in message and f"{calls:,} page requests" in message
    assert "repeats" not in message
    assert calls == pytest.approx(60 / 0.05, abs=2) and fake_time.now - started < 61


def test_a_next_link_that_repeats_is_still_called_so(client, api):
    page = {"count": 9, "next": f"{HOST}{BASE}?offset=1", "results": []}
    api.get(BASE).respond(json=page)
    with pytest.raises(PaginationError, match="'next' link repeats"):
        client.list_endpoints()


def test_a_paged_run_past_its_deadline_says_how_far_it_got(paged, api, fake_time):
    def answer(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        offset, limit = sent.get("offset") or 0, sent["limit"]
        fake_time.now += 25  # each page takes 25 s of the 60 s deadline
        rows = [[f"2026-01-{offset + i + 1:02d}", i] for i in range(limit)]
        return httpx.Response(200, json=run_json(rows, has_more=True, offset=offset, limit=limit))

    api.post(f"{BASE}daily_signups/run/").mock(side_effect=answer)
    with pytest.raises(QueryTimeoutError, match=r"within 60 s .*, after 2 pages \(4 rows\)"):
        paged.run_endpoint("daily_signups", variables={"since": "x"}, max_rows=None)


def test_types_are_matched_by_name_when_the_names_agree_in_another_order():
    df = to_dataframe(["a", "b"], [["b", "String"], ["a", "UInt8"]], [[1, "x"]])
    assert str(df["a"].dtype) == "uint8" and str(df["b"].dtype) == "string"


def test_types_named_after_expressions_take_the_columns_left_over_by_position():
    # `n` matches by name; `day` takes the one type left, named after its ClickHouse expression
    df = to_dataframe(["day", "n"], [["n", "UInt64"], ["toDate(timestamp)", "Date"]], [["2026-01-01", 3]])
    assert [str(t) for t in df.dtypes] == ["datetime64[ns]", "uint64"]
