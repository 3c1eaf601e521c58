"""run_endpoint: GET or POST, the body, async polling and cancellation, paging and the row guard."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import httpx
import pytest
from client_fakes import BASE, QUERY, make_client, run_json, status_json
from client_fakes import request_body as body

from endpoints_dagster.client.errors import (
    InvalidRequestError,
    PaginationError,
    PostHogEndpointsError,
    QueryCancelledError,
    QueryFailedError,
    QueryTimeoutError,
    TooManyRowsError,
)
from endpoints_dagster.client.models import QueryStatus

RUN = f"{BASE}daily_signups/run/"
ROWS = [[f"2026-01-0{i}", i] for i in range(1, 6)]


# -- GET or POST, and the body ---------------------------------------------------------------------


def test_plain_run_is_a_get_and_parses_the_result(client, api):
    route = api.get(RUN).respond(json=run_json([["2026-01-01", 42]], is_cached=True))
    result = client.run_endpoint("daily_signups")
    request = route.calls.last.request
    assert request.content == b"" and request.url.query == b""
    assert result.columns == ["day", "signups"]
    assert result.types == [("day", "Date"), ("signups", "UInt64")]
    assert result.results == [["2026-01-01", 42]] and result.row_count == 1
    assert result.has_more is False and result.is_cached is True and result.cache_key == "ck"
    assert result.last_refresh == datetime(2026, 11, 20, 8, tzinfo=timezone.utc)
    assert result.endpoint_version == 2
    assert result.endpoint_version_created_at == datetime(2026, 1, 2, tzinfo=timezone.utc)
    assert (result.name, result.timezone, result.pages, result.query_id) == ("daily_signups", "UTC", 1, None)
    assert "results" not in result.raw and result.raw["cache_key"] == "ck"
    assert result.server_duration is None and result.total_duration >= 0


def test_version_only_is_a_get_with_version_param(client, api):
    route = api.get(RUN).respond(json=run_json([], version=1))
    assert client.run_endpoint("daily_signups", version=1).endpoint_version == 1
    assert route.calls.last.request.url.params["version"] == "1"


def test_current_dialect_version_keys_are_read(client, api):
    data = run_json([])
    del data["_version"], data["_version_created_at"]
    data.update(endpoint_version=3, endpoint_version_created_at="2026-02-01T00:00:00Z")
    api.get(RUN).respond(json=data)
    result = client.run_endpoint("daily_signups")
    assert result.endpoint_version == 3 and result.endpoint_version_created_at.year == 2026


def test_post_body_uses_the_documented_dialect(client, api):
    route = api.post(RUN).respond(json=run_json([["2026-01-01", 1]]))
    result = client.run_endpoint(
        "daily_signups",
        variables={"since": "2026-01-01"},
        refresh="force_blocking",
        version=2,
        filters_override={"date_from": "-7d"},
        variables_override={"v-1": {"variableId": "v-1", "code_name": "since", "value": "2026-02-01"}},
        query_override={"interval": "week"},
    )
    sent = body(route.calls.last)
    query_id = sent.pop("client_query_id")
    assert len(query_id) == 32 and int(query_id, 16) >= 0  # uuid4 hex
    assert sent == {
        "variables_values": {"since": "2026-01-01"},
        "variables_override": {"v-1": {"variableId": "v-1", "code_name": "since", "value": "2026-02-01"}},
        "filters_override": {"date_from": "-7d"},
        "query_override": {"interval": "week"},
        "refresh": "force_blocking",
        "version": 2,
        "limit": 1000,  # a full page at once instead of PostHog's default 100 rows
    }
    assert result.query_id == query_id


def test_each_post_gets_a_new_client_query_id_unless_given(client, api):
    route = api.post(RUN).respond(json=run_json([]))
    client.run_endpoint("daily_signups", variables={"since": "x"})
    client.run_endpoint("daily_signups", variables={"since": "x"})
    client.run_endpoint("daily_signups", client_query_id="mine-1")
    ids = [body(call)["client_query_id"] for call in route.calls]
    assert ids[0] != ids[1] and ids[2] == "mine-1"


def test_first_page_limit_is_bounded_by_max_rows(client, api):
    route = api.post(RUN).respond(json=run_json([]))
    client.run_endpoint("daily_signups", refresh="force_blocking", max_rows=10)
    assert body(route.calls.last)["limit"] == 10


def test_invalid_refresh_is_refused_before_sending(client, api):
    with pytest.raises(InvalidRequestError) as info:
        client.run_endpoint("daily_signups", refresh="sometimes")
    assert info.value.attr == "refresh" and "force_async" in str(info.value)
    assert not api.calls


def test_force_cache_miss_is_an_empty_uncached_result(client, api):
    api.post(RUN).respond(json={"results": None, "is_cached": False, "query_status": None})
    result = client.run_endpoint("daily_signups", refresh="force_cache")
    assert result.row_count == 0 and result.results == [] and result.is_cached is False and result.pages == 1


# -- async -----------------------------------------------------------------------------------------


def async_routes(api, polls: list[httpx.Response], query_id: str = "q1"):
    run = api.post(RUN).respond(202, json=status_json(query_id))
    status = api.get(f"{QUERY}{query_id}/").mock(side_effect=polls)
    cancel = api.delete(f"{QUERY}{query_id}/").respond(200, json={"message": "Query task revoked"})
    return run, status, cancel


def test_async_run_polls_with_growing_intervals_until_complete(client, api, fake_time):
    done = status_json("q1", complete=True, results=run_json([["2026-01-01", 7]]))
    running = [httpx.Response(202, json=status_json("q1")) for _ in range(5)]
    _, status, cancel = async_routes(api, [*running, httpx.Response(200, json=done)])
    seen: list[QueryStatus] = []
    result = client.run_endpoint("daily_signups", refresh="force_async", on_progress=seen.append)
    # 22% of the query's age, never below poll_interval (0.2): it grows once the query is 0.9 s old.
    assert fake_time.sleeps == pytest.approx([0.2, 0.2, 0.2, 0.2, 0.2, 0.22])
    assert status.call_count == 6 and cancel.call_count == 0
    assert all(call.request.url.params["show_progress"] == "true" for call in status.calls)
    assert len(seen) == 6 and seen[0].query_progress.rows_read == 10 and seen[-1].complete
    assert result.results == [["2026-01-01", 7]] and result.query_id == "q1"
    assert result.server_duration == pytest.approx(2.5)


def test_a_200_whose_status_is_incomplete_is_async_too(client, api):
    api.post(RUN).respond(200, json=status_json("q2"))
    api.get(f"{QUERY}q2/").respond(200, json=status_json("q2", complete=True, results=run_json([["d", 1]])))
    assert client.run_endpoint("daily_signups", refresh="async").results == [["d", 1]]


def test_deadline_cancels_then_raises_timeout(client, api, fake_time):
    _, _status, cancel = async_routes(api, [httpx.Response(202, json=status_json("q1")) for _ in range(20)])
    with pytest.raises(QueryTimeoutError) as info:
        client.run_endpoint("daily_signups", refresh="force_async", timeout=1.0)
    assert sum(fake_time.sleeps) == pytest.approx(1.0)
    assert cancel.call_count == 1
    assert api.calls.last.request.method == "DELETE" and api.calls.last.request.url.path == f"{QUERY}q1/"
    assert info.value.query_id == "q1" and "within 1 s" in str(info.value)


def test_interrupt_from_progress_callback_cancels_the_query(client, api):
    _, _, cancel = async_routes(api, [httpx.Response(202, json=status_json("q1")) for _ in range(5)])

    def interrupt(status: QueryStatus) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        client.run_endpoint("daily_signups", refresh="force_async", on_progress=interrupt)
    assert cancel.call_count == 1 and api.calls.last.request.method == "DELETE"


def test_cancel_event_cancels_the_query(client, api, fake_time):
    _, status, cancel = async_routes(api, [httpx.Response(202, json=status_json("q1")) for _ in range(10)])
    event = threading.Event()
    fake_time.on_sleep = lambda seconds: event.set() if len(fake_time.sleeps) == 3 else None
    with pytest.raises(QueryCancelledError) as info:
        client.run_endpoint("daily_signups", refresh="force_async", cancel_event=event)
    assert status.call_count == 2 and cancel.call_count == 1
    assert api.calls.last.request.method == "DELETE" and info.value.query_id == "q1"


def test_a_cancel_event_set_before_the_run_sends_nothing(client, api):
    event = threading.Event()
    event.set()
    with pytest.raises(QueryCancelledError):
        client.run_endpoint("daily_signups", cancel_event=event)
    assert not api.calls


def test_cancel_failure_is_swallowed_and_logged(client, api, caplog):
    api.post(RUN).respond(202, json=status_json("q1"))
    api.get(f"{QUERY}q1/").respond(202, json=status_json("q1"))
    api.delete(f"{QUERY}q1/").respond(500, json={"detail": "nope"})
    with pytest.raises(QueryTimeoutError):
        client.run_endpoint("daily_signups", refresh="force_async", timeout=0.5)
    assert "could not cancel query q1" in caplog.text


def test_failed_async_query_raises_with_the_engine_message(client, api):
    failed = status_json("q1", complete=True, error=True, error_message="Code: 241. Memory limit exceeded")
    _, _, cancel = async_routes(
        api, [httpx.Response(202, json=status_json("q1")), httpx.Response(400, json=failed)]
    )
    with pytest.raises(QueryFailedError) as info:
        client.run_endpoint("daily_signups", refresh="force_async")
    assert info.value.error_message == "Code: 241. Memory limit exceeded"
    assert "Memory limit exceeded" in str(info.value) and "'daily_signups'" in str(info.value)
    assert cancel.call_count == 0


def test_deadline_during_a_blocking_request_cancels_by_client_query_id(client, api, fake_time):
    def slow(request):
        fake_time.now += 10
        raise httpx.ReadTimeout("slow", request=request)

    run = api.post(RUN).mock(side_effect=slow)
    cancel = api.route(method="DELETE", path__startswith=QUERY).respond(204)
    with pytest.raises(QueryTimeoutError):
        client.run_endpoint("daily_signups", variables={"since": "x"}, timeout=5)
    query_id = body(run.calls.last)["client_query_id"]
    assert run.call_count == 1 and cancel.calls.last.request.url.path == f"{QUERY}{query_id}/"


def test_interrupt_during_the_run_request_cancels_by_client_query_id(client, api):
    sent: list[dict] = []

    def interrupted(request):
        sent.append(json.loads(request.content))
        raise KeyboardInterrupt

    api.post(RUN).mock(side_effect=interrupted)
    cancel = api.route(method="DELETE", path__startswith=QUERY).respond(204)
    with pytest.raises(KeyboardInterrupt):
        client.run_endpoint("daily_signups", refresh="force_blocking")
    assert cancel.calls.last.request.url.path == f"{QUERY}{sent[0]['client_query_id']}/"


# -- paging ----------------------------------------------------------------------------------------


def test_no_has_more_means_one_request(paged, api):
    route = api.post(RUN).respond(json=run_json(ROWS[:2], has_more=False))
    result = paged.run_endpoint("daily_signups", variables={"since": "x"})
    assert route.call_count == 1 and result.pages == 1 and result.row_count == 2


def test_pages_are_concatenated_with_the_same_variables_and_pinned_version(paged, api):
    route = api.post(RUN).mock(
        side_effect=[
            httpx.Response(200, json=run_json(ROWS[0:2], has_more=True, offset=0, limit=2, version=4)),
            httpx.Response(200, json=run_json(ROWS[2:4], has_more=True, offset=2, limit=2, version=4)),
            httpx.Response(200, json=run_json(ROWS[4:5], has_more=False, offset=4, limit=2, version=4)),
        ]
    )
    result = paged.run_endpoint("daily_signups", variables={"since": "x"})
    assert result.results == ROWS and result.pages == 3 and result.has_more is False
    sent = [body(call) for call in route.calls]
    assert [(b.get("offset"), b["limit"]) for b in sent] == [(None, 2), (2, 2), (4, 2)]
    assert all(b["variables_values"] == {"since": "x"} for b in sent)
    assert "version" not in sent[0] and sent[1]["version"] == sent[2]["version"] == 4
    # the first page was computed now, so later pages are computed now too (not an older cache)
    assert [b["refresh"] for b in sent] == ["blocking", "force_blocking", "force_blocking"]
    assert len({b["client_query_id"] for b in sent}) == 3


def test_a_cached_first_page_pages_with_blocking(paged, api):
    route = api.post(RUN).mock(
        side_effect=[
            httpx.Response(200, json=run_json(ROWS[0:2], has_more=True, is_cached=True)),
            httpx.Response(200, json=run_json(ROWS[2:3], offset=2, is_cached=True)),
        ]
    )
    paged.run_endpoint("daily_signups", variables={"since": "x"})
    assert body(route.calls.last)["refresh"] == "blocking"


def test_a_plain_get_continues_with_post_pages(paged, api):
    get = api.get(RUN).respond(json=run_json(ROWS[0:2], has_more=True))
    post = api.post(RUN).respond(json=run_json(ROWS[2:3], offset=2))
    result = paged.run_endpoint("daily_signups")
    assert get.call_count == 1 and post.call_count == 1 and result.row_count == 3
    assert body(post.calls.last)["offset"] == 2


def test_async_first_page_then_pages(paged, api):
    first = run_json(ROWS[0:2], has_more=True)
    api.post(RUN).mock(
        side_effect=[
            httpx.Response(202, json=status_json("q1")),
            httpx.Response(200, json=run_json(ROWS[2:3], offset=2)),
        ]
    )
    api.get(f"{QUERY}q1/").respond(json=status_json("q1", complete=True, results=first))
    result = paged.run_endpoint("daily_signups", refresh="force_async")
    assert result.row_count == 3 and result.query_id == "q1" and result.pages == 2


def test_caller_limit_and_offset(paged, api):
    route = api.post(RUN).mock(
        side_effect=[
            httpx.Response(200, json=run_json(ROWS[1:3], has_more=True, offset=1)),
            httpx.Response(200, json=run_json(ROWS[3:4], has_more=True, offset=3)),
        ]
    )
    result = paged.run_endpoint("daily_signups", limit=3, offset=1)
    assert [(body(c)["offset"], body(c)["limit"]) for c in route.calls] == [(1, 2), (3, 1)]
    assert result.results == ROWS[1:4] and result.has_more is True


def test_max_rows_guard_says_how_many_rows_exist(paged, api):
    route = api.post(RUN).mock(
        side_effect=[
            httpx.Response(200, json=run_json(ROWS[0:2], has_more=True)),
            httpx.Response(200, json=run_json(ROWS[2:3], has_more=True, offset=2)),
        ]
    )
    with pytest.raises(TooManyRowsError) as info:
        paged.run_endpoint("daily_signups", variables={"since": "x"}, max_rows=3)
    assert body(route.calls.last)["limit"] == 1  # never asks past the guard
    assert info.value.rows_at_least == 4 and info.value.max_rows == 3 and route.call_count == 2
    assert "at least 4 rows" in str(info.value) and "max_rows" in str(info.value)


def test_max_rows_guard_from_the_client_default(fake_time, api):
    client = make_client(fake_time, max_rows=2)
    api.get(RUN).respond(json=run_json(ROWS, has_more=False))  # a server that ignored any limit
    with pytest.raises(TooManyRowsError) as info:
        client.run_endpoint("daily_signups")
    assert info.value.rows_at_least == 5
    api.get(RUN).respond(json=run_json(ROWS, has_more=True))
    with pytest.raises(TooManyRowsError) as info:
        client.run_endpoint("daily_signups")
    assert info.value.rows_at_least == 6


def test_max_rows_none_removes_the_guard(fake_time, api):
    client = make_client(fake_time, max_rows=2)
    api.get(RUN).respond(json=run_json(ROWS, has_more=False))
    assert client.run_endpoint("daily_signups", max_rows=None).row_count == 5


def test_exactly_max_rows_is_fine(paged, api):
    api.post(RUN).respond(json=run_json(ROWS[0:2], has_more=False))
    assert paged.run_endpoint("daily_signups", variables={"since": "x"}, max_rows=2).row_count == 2


@pytest.mark.parametrize(
    "second",
    [
        run_json(ROWS[0:2], has_more=True, offset=0),  # echoes the wrong offset
        {k: v for k, v in run_json(ROWS[0:2], has_more=True).items() if k != "offset"},  # same rows, no echo
        run_json([], has_more=True, offset=2),  # no progress
        run_json(ROWS[2:4], has_more=True, offset=2, version=9),  # another version
    ],
    ids=["wrong-offset", "same-rows", "empty-page", "version-changed"],
)
def test_a_server_that_ignores_paging_is_detected(paged, api, second):
    first = {k: v for k, v in run_json(ROWS[0:2], has_more=True).items() if k != "offset"}
    route = api.post(RUN).mock(
        side_effect=[httpx.Response(200, json=first), httpx.Response(200, json=second)]
    )
    with pytest.raises(PaginationError) as info:
        paged.run_endpoint("daily_signups", variables={"since": "x"}, max_rows=None)
    assert route.call_count == 2 and "'daily_signups'" in str(info.value) and "offset 2" in str(info.value)


def test_force_cache_page_miss_is_reported(paged, api):
    route = api.post(RUN).mock(
        side_effect=[
            httpx.Response(200, json=run_json(ROWS[0:2], has_more=True, is_cached=True)),
            httpx.Response(200, json={"results": None, "is_cached": False}),
        ]
    )
    with pytest.raises(PaginationError) as info:
        paged.run_endpoint("daily_signups", refresh="force_cache")
    assert body(route.calls.last)["refresh"] == "force_cache" and "refresh='blocking'" in str(info.value)


def test_a_server_that_ignores_the_pinned_version_is_refused(client, api):
    api.get(RUN).respond(json=run_json([["2026-01-01", 42]], version=3))
    with pytest.raises(
        PostHogEndpointsError, match="asked for version 1, but PostHog answered with version 3"
    ):
        client.run_endpoint("daily_signups", version=1)
