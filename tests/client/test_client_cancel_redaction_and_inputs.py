"""Edge cases: cancellation while paging, errors of the async query API, redaction."""

from __future__ import annotations

import threading

import httpx
import pytest
from client_fakes import BASE, KEY, QUERY, endpoint_json, make_client, run_json, status_json
from client_fakes import request_body as body

from endpoints_dagster.client.errors import EndpointNotFoundError, PostHogEndpointsError, QueryCancelledError

RUN = f"{BASE}daily_signups/run/"
ROWS = [[f"2026-01-0{i}", i] for i in range(1, 8)]


def test_cancel_while_a_later_page_is_open_stops_that_page_and_fetches_no_more(paged, api):
    """Dagster terminates the run while page 2 (its own client_query_id) is being computed."""
    event, deleted = threading.Event(), threading.Event()
    cancel = api.route(method="DELETE", path__startswith=QUERY).mock(
        side_effect=lambda request: (
            deleted.set(),
            httpx.Response(200, json={"message": "Query task revoked"}),
        )[1]
    )

    def second_page(request):
        event.set()  # the step is terminated while this request is open ...
        assert deleted.wait(5)  # ... and PostHog answers once the query was stopped
        return httpx.Response(200, json=run_json(ROWS[2:4], has_more=True, offset=2))

    route = api.post(RUN).mock(
        side_effect=[
            httpx.Response(200, json=run_json(ROWS[0:2], has_more=True)),
            second_page,
            httpx.Response(200, json=run_json(ROWS[4:6], has_more=True, offset=4)),
            httpx.Response(200, json=run_json(ROWS[6:7], offset=6)),
        ]
    )
    with pytest.raises(QueryCancelledError):
        paged.run_endpoint("daily_signups", variables={"since": "x"}, cancel_event=event)
    assert route.call_count == 2  # no page after the cancel
    page_two = body(route.calls[1])["client_query_id"]
    assert [call.request.url.path for call in cancel.calls] == [f"{QUERY}{page_two}/"]


def test_a_cancel_event_set_before_the_run_sends_no_delete_either(client, api):
    event = threading.Event()
    event.set()
    cancel = api.route(method="DELETE", path__startswith=QUERY).respond(204)
    with pytest.raises(QueryCancelledError):
        client.run_endpoint("daily_signups", cancel_event=event)
    # the watcher thread has had time to act if it was going to
    threading.Event().wait(0.3)
    assert cancel.call_count == 0 and not api.calls


def test_an_unknown_query_id_while_polling_is_not_reported_as_a_missing_endpoint(client, api):
    api.post(RUN).respond(202, json=status_json("q9"))
    api.get(f"{QUERY}q9/").respond(
        404, json={"type": "invalid_request", "code": "not_found", "detail": "Not found."}
    )
    api.delete(f"{QUERY}q9/").respond(
        404, json={"type": "invalid_request", "code": "not_found", "detail": "Not found."}
    )
    with pytest.raises(PostHogEndpointsError) as info:
        client.run_endpoint("daily_signups", refresh="force_async")
    assert not isinstance(info.value, EndpointNotFoundError)
    text = str(info.value)
    assert "'q9'" in text and "'daily_signups'" in text and "Run the endpoint again" in text
    assert "does not exist, was deleted" not in text and info.value.endpoint == "daily_signups"


def test_a_key_echoed_near_the_cut_of_a_non_json_error_page_leaves_no_part_of_it(client, api):
    # A proxy's HTML error page echoing the request headers; the message keeps its first 300 characters.
    page = "<html><body>" + "a" * 262 + " " + f"Authorization: Bearer {KEY}" + " more</body></html>"
    api.get(f"{BASE}daily_signups/").respond(500, text=page)
    with pytest.raises(PostHogEndpointsError) as info:
        client.get_endpoint("daily_signups")
    assert "non-JSON answer" in str(info.value)
    assert KEY[:8] not in str(info.value) and KEY[:8] not in (info.value.detail or "")


@pytest.mark.parametrize("failure", ["read-timeout", "504"])
def test_a_run_request_given_up_on_while_posthog_may_still_compute_cancels_its_query(fake_time, api, failure):
    client = make_client(fake_time, max_retries=1)

    def fail(request):
        if failure == "504":
            return httpx.Response(504, text="upstream request timeout")
        raise httpx.ReadTimeout("slow", request=request)

    run = api.post(RUN).mock(side_effect=fail)
    cancel = api.route(method="DELETE", path__startswith=QUERY).respond(
        200, json={"message": "Query task revoked"}
    )
    with pytest.raises(PostHogEndpointsError):
        client.run_endpoint("daily_signups", variables={"since": "x"}, refresh="force_blocking")
    query_id = body(run.calls.last)["client_query_id"]
    assert run.call_count == 2 and {body(call)["client_query_id"] for call in run.calls} == {query_id}
    assert cancel.call_count == 1 and api.calls.last.request.url.path == f"{QUERY}{query_id}/"


def test_a_run_refused_outright_sends_no_cancel(client, api):
    api.post(RUN).respond(
        400,
        json={
            "type": "validation_error",
            "code": "invalid_input",
            "detail": "Unknown variable(s): x",
            "attr": "variables_values",
        },
    )
    cancel = api.route(method="DELETE", path__startswith=QUERY).respond(204)
    with pytest.raises(PostHogEndpointsError):
        client.run_endpoint("daily_signups", variables={"x": 1})
    assert cancel.call_count == 0


def test_a_503_with_retry_after_waits_that_long(client, api, fake_time):
    busy = {"type": "server_error", "code": "query_capacity", "detail": "Too many queries.", "attr": None}
    route = api.get(f"{BASE}daily_signups/").mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": "7"}, json=busy),
            httpx.Response(200, json=endpoint_json()),
        ]
    )
    client.get_endpoint("daily_signups")
    assert route.call_count == 2 and len(fake_time.sleeps) == 1 and 7.0 <= fake_time.sleeps[0] <= 7.8


def test_a_configured_retry_max_wait_past_a_minute_still_retries(fake_time, api):
    client = make_client(
        fake_time, max_retries=4, retry_initial_wait=40.0, retry_max_wait=120.0, run_timeout=3600.0
    )
    route = api.get(f"{BASE}daily_signups/").mock(
        side_effect=[
            *[httpx.Response(502, text="bad gateway") for _ in range(3)],
            httpx.Response(200, json=endpoint_json()),
        ]
    )
    client.get_endpoint("daily_signups")
    assert route.call_count == 4 and len(fake_time.sleeps) == 3 and max(fake_time.sleeps) > 60


def test_pandas_timestamps_in_variables_travel_as_iso_text_like_datetimes(client, api):
    from datetime import datetime, timezone

    import pandas as pd

    route = api.post(RUN).respond(json=run_json([]))
    client.run_endpoint(
        "daily_signups",
        variables={
            "since": pd.Timestamp("2026-01-01", tz="UTC"),
            "until": datetime(2026, 2, 1, tzinfo=timezone.utc),
            "day": pd.Timestamp("2026-03-01"),
            "missing": pd.NaT,
        },
    )
    sent = body(route.calls.last)["variables_values"]
    assert sent == {
        "since": "2026-01-01T00:00:00+00:00",
        "until": "2026-02-01T00:00:00+00:00",
        "day": "2026-03-01T00:00:00",
        "missing": None,
    }


@pytest.mark.parametrize("call", ["create", "update"])
def test_a_query_that_is_neither_text_nor_a_query_dict_is_refused_naming_the_endpoint(client, api, call):
    from endpoints_dagster.client.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError) as info:
        if call == "create":
            client.create_endpoint("daily_signups", {"query": "SELECT 1"})
        else:
            client.update_endpoint("daily_signups", query=42)
    assert "'daily_signups'" in str(info.value) and "HogQLQuery" in str(info.value)
    assert info.value.attr == "query" and info.value.endpoint == "daily_signups" and not api.calls
