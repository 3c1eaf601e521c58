"""A gateway cutting a synchronous run at its limit is told from a blip (issue 18).

PostHog runs endpoints synchronously behind a gateway that stops a request at about 60 s. A 504
(or dropped connection) after the request was open that long is retried once, the query is cancelled
and the error says to materialize or narrow the endpoint; a quick 502/503/504 is retried as before.
The fake clock moves inside the mocked answers: that is how long each request "was open".
"""

from __future__ import annotations

import httpx
import pytest
from client_fakes import BASE, KEY, QUERY, make_client, run_json

from endpoints_dagster.client.errors import GatewayTimeoutError, QueryTimeoutError, ServerError
from endpoints_dagster.client.retry import is_gateway_cut

RUN = f"{BASE}daily_signups/run/"
HTML_504 = "<html><head><title>504 Gateway Time-out</title></head><body>504 Gateway Time-out</body></html>"


def held_for(fake_time, seconds: float, response: httpx.Response | Exception):
    def answer(request: httpx.Request) -> httpx.Response:
        fake_time.now += seconds
        if isinstance(response, Exception):
            raise response
        return response

    return answer


@pytest.fixture
def client(fake_time):
    """The test client with a deadline past two gateway cuts (run_timeout is 60 s in client_fakes)."""
    client = make_client(fake_time, run_timeout=1800.0)
    yield client
    client.close()


@pytest.fixture
def cancels(api):
    return api.delete(url__regex=rf"{QUERY}.+/").respond(200, json={"message": "Query task revoked"})


def test_a_504_at_the_gateway_limit_is_retried_once_then_cancelled_and_explained(
    client, api, fake_time, cancels
):
    run = api.post(RUN).mock(side_effect=held_for(fake_time, 60.5, httpx.Response(504, text=HTML_504)))
    with pytest.raises(GatewayTimeoutError) as info:
        client.run_endpoint("daily_signups", variables={"since": "2026-01-01"})
    error = info.value
    assert run.call_count == 2 and cancels.call_count == 1
    sent_id = run.calls.last.request.content.decode()
    assert cancels.calls.last.request.url.path.rsplit("/", 2)[-2] in sent_id  # cancelled by client_query_id
    message = str(error)
    assert "ran longer than PostHog's synchronous limit" in message and "after 60 s" in message
    assert "update_endpoint('daily_signups', is_materialized=True)" in message
    assert "materialize: true" in message and "variables or partitions" in message
    assert "max_retries" not in message and KEY not in message and KEY not in repr(error)
    assert isinstance(error, QueryTimeoutError) and error.status_code == 504 and error.attempts == 2


def test_a_connection_dropped_at_the_gateway_limit_counts_as_the_cut(client, api, fake_time, cancels):
    drop = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    run = api.post(RUN).mock(side_effect=held_for(fake_time, 58, drop))
    with pytest.raises(GatewayTimeoutError, match="dropped the connection after 58 s"):
        client.run_endpoint("daily_signups", variables={"since": "2026-01-01"})
    assert run.call_count == 2 and cancels.call_count == 1


def test_a_cut_then_a_success_returns_the_rows(client, api, fake_time, cancels):
    rows = [["2026-01-01", 1]]
    api.post(RUN).mock(
        side_effect=[
            held_for(fake_time, 61, httpx.Response(504, text=HTML_504))(None),
            httpx.Response(200, json=run_json(rows)),
        ]
    )
    assert client.run_endpoint("daily_signups", variables={"since": "x"}).results == rows
    assert cancels.call_count == 0


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_quick_gateway_error_is_a_blip_retried_as_before(client, api, fake_time, status):
    run = api.post(RUN).mock(side_effect=held_for(fake_time, 0.3, httpx.Response(status, text=HTML_504)))
    with pytest.raises(ServerError) as info:
        client.run_endpoint("daily_signups", variables={"since": "x"})
    assert not isinstance(info.value, GatewayTimeoutError)
    assert run.call_count == 1 + client.max_retries  # max_retries=3 in the test client


def test_about_the_limit_means_at_least_nine_tenths_of_it(fake_time):
    error = ServerError("x", status_code=504)
    error.elapsed = 53.9
    assert not is_gateway_cut(error, 60.0)
    error.elapsed = 54.0
    assert is_gateway_cut(error, 60.0) and not is_gateway_cut(error, None)
    error.status_code = 500
    assert not is_gateway_cut(error, 60.0)


def test_the_threshold_is_configurable_and_none_turns_it_off(api, fake_time, cancels):
    short = make_client(fake_time, gateway_timeout=5.0)
    run = api.post(RUN).mock(side_effect=held_for(fake_time, 5, httpx.Response(504, text=HTML_504)))
    with pytest.raises(GatewayTimeoutError, match="after 5 s"):
        short.run_endpoint("daily_signups", variables={"since": "x"})
    assert run.call_count == 2
    short.close()
    off = make_client(fake_time, gateway_timeout=None, run_timeout=10_000)
    run.reset()
    with pytest.raises(ServerError) as info:
        off.run_endpoint("daily_signups", variables={"since": "x"})
    assert not isinstance(info.value, GatewayTimeoutError) and run.call_count == 1 + off.max_retries
    off.close()


def test_on_posthog_today_a_run_request_is_waited_for_past_the_gateway_limit(api, fake_time):
    seen: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"]["read"])
        return httpx.Response(200, json=run_json([["2026-01-01", 1]]))

    api.post(RUN).mock(side_effect=answer)
    api.get(RUN).mock(side_effect=answer)
    for dialect, expected in (("current", 65.0), ("documented", 30.0)):
        with make_client(fake_time, api_dialect=dialect, request_timeout=30.0, run_timeout=1800.0) as c:
            c.run_endpoint("daily_signups", variables={"since": "x"})
        assert seen.pop() == expected, dialect
