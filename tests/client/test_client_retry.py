"""Retry classification: what is retried, how long the client waits, what is never resent blindly."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from client_fakes import BASE, KEY, endpoint_json, make_client, run_json

from endpoints_dagster.client.errors import (
    AuthenticationError,
    EndpointNotFoundError,
    InvalidRequestError,
    PermissionDeniedError,
    PostHogConnectionError,
    RateLimitedError,
    ServerError,
)

THROTTLED = {
    "type": "throttled_error",
    "code": "throttled",
    "attr": None,
    "detail": "Request was throttled. Expected available in 1 seconds.",
}


def bodies(route) -> list[dict]:
    return [json.loads(call.request.content) for call in route.calls]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, EndpointNotFoundError),
    ],
)
def test_client_errors_are_tried_once(client, api, fake_time, status, error):
    route = api.get(f"{BASE}x/").respond(status, json={"detail": "no"})
    with pytest.raises(error):
        client.get_endpoint("x")
    assert route.call_count == 1 and fake_time.sleeps == []


def test_429_waits_about_the_expected_seconds_then_succeeds(client, api, fake_time, caplog):
    route = api.get(BASE).mock(
        side_effect=[httpx.Response(429, json=THROTTLED), httpx.Response(200, json={"results": []})]
    )
    assert client.list_endpoints() == []
    assert route.call_count == 2
    assert len(fake_time.sleeps) == 1 and 1.0 <= fake_time.sleeps[0] <= 1.1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert message.startswith(f"retrying GET {BASE} for the project's endpoints in 1.")
    assert message.endswith("after 429 throttled (retry 1/3)")


def test_retry_after_header_is_honoured(client, api, fake_time):
    api.get(BASE).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "4"}, json={"error": "slow"}),
            httpx.Response(200, json={"results": []}),
        ]
    )
    client.list_endpoints()
    assert 4.0 <= fake_time.sleeps[0] <= 4.5


def test_a_wait_longer_than_a_minute_is_not_slept(client, api, fake_time):
    route = api.get(BASE).respond(429, headers={"Retry-After": "3600"}, json={"error": "hourly limit"})
    with pytest.raises(RateLimitedError) as info:
        client.list_endpoints()
    assert info.value.retry_after == 3600 and route.call_count == 1 and fake_time.sleeps == []


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_and_capacity_errors_are_retried_with_growing_backoff(client, api, fake_time, status):
    route = api.get(BASE).respond(status, json={"type": "server_error", "code": "x", "detail": "later"})
    with pytest.raises(ServerError) as info:
        client.list_endpoints()
    assert route.call_count == 4 and info.value.attempts == 4  # 1 + max_retries
    assert len(fake_time.sleeps) == 3
    # exponential with jitter: 0.5*2^n plus up to 0.5 s of jitter
    for attempt, wait in enumerate(fake_time.sleeps):
        assert 0.5 * 2**attempt <= wait <= 0.5 * 2**attempt + 0.5


def test_500_is_not_retried(client, api):
    route = api.get(BASE).respond(500, json={"detail": "bug"})
    with pytest.raises(ServerError):
        client.list_endpoints()
    assert route.call_count == 1


def test_read_timeouts_and_dropped_connections_of_a_get_are_retried(client, api):
    route = api.get(BASE).mock(
        side_effect=[
            httpx.ReadTimeout("slow"),
            httpx.RemoteProtocolError("dropped"),
            httpx.Response(200, json={"results": []}),
        ]
    )
    assert client.list_endpoints() == []
    assert route.call_count == 3


def test_max_retries_zero_sends_once(fake_time, api):
    client = make_client(fake_time, max_retries=0)
    route = api.get(BASE).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(PostHogConnectionError):
        client.list_endpoints()
    assert route.call_count == 1


def test_run_retries_never_sleep_past_the_deadline(client, api, fake_time):
    busy = {
        "type": "throttled_error",
        "code": "throttled",
        "attr": None,
        "detail": "Request was throttled. Expected available in 5 seconds.",
    }
    route = api.get(f"{BASE}daily_signups/run/").respond(429, json=busy)
    with pytest.raises(RateLimitedError):
        client.run_endpoint("daily_signups", timeout=3)
    assert route.call_count == 1 and fake_time.sleeps == []


def test_run_post_is_retried_as_the_same_query_after_a_read_timeout(client, api):
    route = api.post(f"{BASE}daily_signups/run/").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json=run_json([["2026-01-01", 1]]))]
    )
    result = client.run_endpoint("daily_signups", variables={"since": "2026-01-01"})
    first, second = bodies(route)
    assert first == second and len(first["client_query_id"]) == 32
    assert result.query_id == first["client_query_id"]


def test_create_is_not_resent_after_a_read_timeout_when_it_was_applied(client, api):
    post = api.post(BASE).mock(side_effect=httpx.ReadTimeout("slow"))
    get = api.get(f"{BASE}new_one/").respond(
        json=endpoint_json(
            "new_one",
            query={
                "kind": "HogQLQuery",
                "query": "SELECT 1",
                "filters": None,
                "variables": None,
                "explain": None,
            },
        )
    )
    endpoint = client.create_endpoint("new_one", "SELECT 1")
    assert post.call_count == 1 and get.call_count == 1
    assert endpoint.name == "new_one"


def test_create_is_resent_when_read_back_shows_it_was_not_applied(client, api):
    post = api.post(BASE).mock(
        side_effect=[httpx.RemoteProtocolError("dropped"), httpx.Response(201, json=endpoint_json("new_one"))]
    )
    api.get(f"{BASE}new_one/").respond(
        404, json={"type": "invalid_request", "code": "not_found", "detail": "Not found."}
    )
    client.create_endpoint("new_one", "SELECT 1")
    assert post.call_count == 2
    first, second = bodies(post)
    assert first == second


def test_create_over_an_existing_different_endpoint_is_refused(client, api):
    post = api.post(BASE).mock(side_effect=httpx.ReadTimeout("slow"))
    api.get(f"{BASE}new_one/").respond(json=endpoint_json("new_one"))  # another query
    with pytest.raises(InvalidRequestError) as info:
        client.create_endpoint("new_one", "SELECT 1")
    assert post.call_count == 1
    assert "exists with a different query" in str(info.value)


def test_create_is_retried_without_read_back_when_nothing_was_sent(client, api):
    post = api.post(BASE).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json=endpoint_json("new_one"))]
    )
    get = api.get(f"{BASE}new_one/").respond(json=endpoint_json("new_one"))
    client.create_endpoint("new_one", "SELECT 1")
    assert post.call_count == 2 and get.call_count == 0


def test_create_502_is_ambiguous_but_503_is_resent(client, api):
    post = api.post(BASE).mock(
        side_effect=[
            httpx.Response(503, json={"detail": "busy"}),
            httpx.Response(502, json={"detail": "gw"}),
            httpx.Response(201, json=endpoint_json("new_one")),
        ]
    )
    get = api.get(f"{BASE}new_one/").respond(404, json={"detail": "Not found."})
    client.create_endpoint("new_one", "SELECT 1")
    assert post.call_count == 3 and get.call_count == 1  # read back only after the 502


def test_delete_after_a_read_timeout_checks_it_is_gone(client, api):
    delete = api.delete(f"{BASE}old/").mock(side_effect=httpx.ReadTimeout("slow"))
    get = api.get(f"{BASE}old/").respond(404, json={"detail": "Not found."})
    assert client.delete_endpoint("old") is None
    assert delete.call_count == 1 and get.call_count == 1


def test_delete_is_resent_when_the_endpoint_still_exists(client, api):
    delete = api.delete(f"{BASE}old/").mock(side_effect=[httpx.ReadTimeout("slow"), httpx.Response(204)])
    api.get(f"{BASE}old/").respond(json=endpoint_json("old"))
    client.delete_endpoint("old")
    assert delete.call_count == 2


def test_update_after_a_dropped_connection_returns_the_applied_state(client, api):
    patch = api.patch(f"{BASE}daily_signups/").mock(side_effect=httpx.RemoteProtocolError("dropped"))
    api.get(f"{BASE}daily_signups/").respond(json=endpoint_json(description="new"))
    endpoint = client.update_endpoint("daily_signups", description="new")
    assert patch.call_count == 1 and endpoint.description == "new"


def test_update_is_resent_when_not_applied(client, api):
    patch = api.patch(f"{BASE}daily_signups/").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json=endpoint_json(description="new"))]
    )
    api.get(f"{BASE}daily_signups/").respond(json=endpoint_json(description="old"))
    client.update_endpoint("daily_signups", description="new")
    assert patch.call_count == 2


def test_retry_logs_never_hold_the_key(client, api, caplog):
    api.get(BASE).mock(
        side_effect=[httpx.ConnectError(f"refused {KEY}"), httpx.Response(200, json={"results": []})]
    )
    client.list_endpoints()
    assert "retrying GET" in caplog.text and KEY not in caplog.text


def test_retry_backoff_follows_the_configured_waits(api, fake_time):
    """Backoff starts near `retry_initial_wait` and stops growing at `retry_max_wait`."""
    client = make_client(fake_time, max_retries=6, retry_initial_wait=2.0, retry_max_wait=5.0)
    api.get(f"{BASE}x/").respond(503)
    with pytest.raises(ServerError):
        client.get_endpoint("x")
    waits = fake_time.sleeps
    assert len(waits) == 6
    assert 2.0 <= waits[0] <= 4.0  # the initial wait plus at most its own jitter
    assert all(w <= 5.0 for w in waits)
    assert waits[-1] == 5.0  # 2 * 2**5 is far past the cap
