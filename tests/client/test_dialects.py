"""The two API dialects: mapping on the current one, auto-detection, paging without hasMore.

A small strict fake of PostHog today (``CurrentServer``) answers runs the way the current dialect
does: unknown body fields and documented refresh modes are a 400 in the exceptions-hog shape,
and ``hasMore`` is always false (without ``limit`` it cuts at 100 rows).
"""

from __future__ import annotations

import json
import logging
import threading

import httpx
import pytest
from client_fakes import BASE, HOST, KEY, PROJECT, endpoint_json, make_client, run_json
from client_fakes import request_body as body

from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.client.dialects.base import DATA_FRESHNESS_SECONDS
from endpoints_dagster.client.errors import InvalidRequestError, QueryCancelledError, TooManyRowsError

RUN = f"{BASE}daily_signups/run/"
CURRENT_FIELDS = {
    "client_query_id",
    "debug",
    "filters_override",
    "limit",
    "offset",
    "refresh",
    "variables",
    "version",
}


def current_endpoint(name: str = "daily_signups", **overrides) -> dict:
    data = endpoint_json(name, **overrides)
    data.setdefault("data_freshness_seconds", data.pop("cache_age_seconds"))
    return data


def current_run_json(rows: list) -> dict:
    data = run_json(rows)
    del data["_version"], data["_version_created_at"], data["cache_key"]
    return {**data, "endpoint_version": 3, "endpoint_version_created_at": "2026-02-01T00:00:00Z"}


class CurrentServer:
    """Runs like PostHog today: strict body, refresh cache|force|direct, hasMore always false."""

    def __init__(self, total: int) -> None:
        self.rows = [[f"d{i}", i] for i in range(total)]
        self.bodies: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content) if request.content else {}
        self.bodies.append(sent)
        extra = sorted(set(sent) - CURRENT_FIELDS)
        if extra:
            return httpx.Response(
                400,
                json={
                    "type": "validation_error",
                    "code": "invalid_input",
                    "detail": "Extra inputs are not permitted",
                    "attr": extra[0],
                },
            )
        if sent.get("refresh", "cache") not in ("cache", "force", "direct"):
            return httpx.Response(
                400,
                json={
                    "type": "validation_error",
                    "code": "invalid_input",
                    "detail": "Input should be 'cache', 'force' or 'direct'",
                    "attr": "refresh",
                },
            )
        limit, offset = sent.get("limit", 100), sent.get("offset", 0)
        data = current_run_json(self.rows[offset : offset + limit])
        return httpx.Response(200, json={**data, "limit": limit, "offset": offset, "hasMore": False})


@pytest.fixture
def current(fake_time):
    client = make_client(fake_time, api_dialect="current")
    yield client
    client.close()


# -- mapping on the current dialect ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "sent"),
    [
        ("blocking", "cache"),
        ("async", "cache"),
        ("lazy_async", "cache"),
        ("force_blocking", "force"),
        ("force_async", "force"),
        ("direct", "direct"),
        ("cache", "cache"),
        ("force", "force"),
    ],
)
def test_refresh_modes_map_to_cache_force_direct(current, api, asked, sent):
    route = api.post(RUN).mock(side_effect=CurrentServer(3))
    result = current.run_endpoint("daily_signups", refresh=asked)
    assert body(route.calls.last)["refresh"] == sent and result.row_count == 3


def test_current_body_has_variables_version_and_limit_and_nothing_documented(current, api):
    route = api.post(RUN).mock(side_effect=CurrentServer(2))
    result = current.run_endpoint(
        "daily_signups",
        variables={"since": "2026-01-01"},
        version=3,
        filters_override={"date_from": "-7d"},
        client_query_id="mine",
    )
    assert body(route.calls.last) == {
        "variables": {"since": "2026-01-01"},
        "filters_override": {"date_from": "-7d"},
        "refresh": "cache",
        "client_query_id": "mine",
        "version": 3,
        "limit": 1000,
    }
    assert result.endpoint_version == 3 and result.endpoint_version_created_at.month == 2
    assert result.query_id == "mine" and result.cache_key is None


def test_a_plain_run_is_a_post_with_a_limit(current, api):
    get = api.get(RUN).respond(json=run_json([]))
    post = api.post(RUN).mock(side_effect=CurrentServer(1))
    current.run_endpoint("daily_signups")
    sent = body(post.calls.last)
    assert get.call_count == 0 and len(sent.pop("client_query_id")) == 32  # so it can be cancelled
    assert sent == {"refresh": "cache", "limit": 1000}


def test_variables_override_becomes_variables_by_code_name(current, api):
    route = api.post(RUN).mock(side_effect=CurrentServer(1))
    current.run_endpoint(
        "daily_signups",
        variables={"since": "2026-03-01"},
        variables_override={
            "v-1": {"variableId": "v-1", "code_name": "since", "value": "2026-02-01"},
            "v-2": {"variableId": "v-2", "code_name": "country", "value": "NL"},
        },
    )
    assert body(route.calls.last)["variables"] == {"since": "2026-03-01", "country": "NL"}


def test_query_override_is_refused_before_sending(current, api):
    with pytest.raises(InvalidRequestError) as info:
        current.run_endpoint("daily_signups", query_override={"interval": "week"})
    assert info.value.attr == "query_override" and "variables" in str(info.value)
    assert not api.calls


def test_force_cache_is_explained_as_unsupported(current, api):
    with pytest.raises(InvalidRequestError) as info:
        current.run_endpoint("daily_signups", refresh="force_cache")
    text = str(info.value)
    assert info.value.attr == "refresh" and "'daily_signups'" in text
    assert "not supported by this PostHog server" in text and "refresh='blocking'" in text
    assert not api.calls


def test_async_runs_synchronously_with_one_warning_per_client(fake_time, api, caplog):
    route = api.post(RUN).mock(side_effect=CurrentServer(2))
    polls = api.route(path__startswith=f"/api/projects/{PROJECT}/query/").respond(404)

    def warnings() -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.levelno == logging.WARNING and "synchronously" in r.getMessage()
        ]

    first = make_client(fake_time, api_dialect="current")
    first.run_endpoint("daily_signups", refresh="force_async")
    first.run_endpoint("daily_signups", refresh="async")
    first.run_endpoint("daily_signups", refresh="lazy_async")
    assert [body(c)["refresh"] for c in route.calls] == ["force", "cache", "cache"]
    assert len(warnings()) == 1 and "refresh='force_async'" in warnings()[0] and "'force'" in warnings()[0]
    assert polls.call_count == 0
    second = make_client(fake_time, api_dialect="current")
    second.run_endpoint("daily_signups", refresh="async")
    assert len(warnings()) == 2
    first.close()
    second.close()


def test_blocking_runs_log_no_warning(current, api, caplog):
    api.post(RUN).mock(side_effect=CurrentServer(1))
    current.run_endpoint("daily_signups", refresh="force_blocking")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# -- paging where hasMore cannot be trusted ----------------------------------------------------------


def test_paging_without_has_more_returns_every_row(fake_time, api):
    client = make_client(fake_time, api_dialect="current", page_size=4)
    server = CurrentServer(10)
    api.post(RUN).mock(side_effect=server)
    result = client.run_endpoint("daily_signups", variables={"since": "x"})
    assert result.results == server.rows and result.pages == 3 and result.has_more is False
    assert [(b.get("offset"), b["limit"]) for b in server.bodies] == [(None, 4), (4, 4), (8, 4)]
    assert all(b["version"] == 3 for b in server.bodies[1:])  # later pages pinned to the first's version
    client.close()


def test_an_exact_multiple_of_the_page_ends_on_an_empty_page(fake_time, api):
    client = make_client(fake_time, api_dialect="current", page_size=5)
    server = CurrentServer(10)
    api.post(RUN).mock(side_effect=server)
    result = client.run_endpoint("daily_signups")
    assert result.row_count == 10 and len(server.bodies) == 3 and server.bodies[-1]["offset"] == 10
    client.close()


def test_exactly_max_rows_is_fine_and_one_more_is_refused(fake_time, api):
    client = make_client(fake_time, api_dialect="current", page_size=2, max_rows=4)
    api.post(RUN).mock(side_effect=CurrentServer(4))
    assert client.run_endpoint("daily_signups").row_count == 4
    api.post(RUN).mock(side_effect=CurrentServer(5))
    with pytest.raises(TooManyRowsError) as info:
        client.run_endpoint("daily_signups")
    assert info.value.rows_at_least == 5 and info.value.max_rows == 4
    client.close()


def test_a_caller_limit_stops_at_that_many_rows(fake_time, api):
    client = make_client(fake_time, api_dialect="current", page_size=3)
    server = CurrentServer(10)
    api.post(RUN).mock(side_effect=server)
    result = client.run_endpoint("daily_signups", limit=5, offset=2)
    assert result.results == server.rows[2:7] and [(b["offset"], b["limit"]) for b in server.bodies] == [
        (2, 3),
        (5, 2),
    ]
    client.close()


def test_auto_plain_get_truncated_at_100_still_returns_every_row(client, api):
    server = CurrentServer(250)
    get = api.get(RUN).mock(side_effect=server)  # a GET sends no limit: PostHog cuts at 100, hasMore false
    post = api.post(RUN).mock(side_effect=server)
    result = client.run_endpoint("daily_signups")
    assert get.call_count == 1 and len(get.calls.last.request.content) == 0
    assert result.results == server.rows and client.dialect == "current"
    assert [(b["offset"], b["limit"]) for b in map(body, post.calls)] == [(100, 1000)]
    assert all("variables_values" not in b for b in server.bodies)


# -- lists, versions, endpoints ----------------------------------------------------------------------


def test_paginated_list_is_followed_on_our_own_host(client, api):
    route = api.get(BASE).mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "count": 3,
                    "next": "http://internal:8000/api/projects/42/endpoints/?limit=2&offset=2",
                    "previous": None,
                    "results": [current_endpoint("a"), current_endpoint("b")],
                },
            ),
            httpx.Response(
                200, json={"count": 3, "next": None, "previous": "x", "results": [current_endpoint("c")]}
            ),
        ]
    )
    endpoints = client.list_endpoints(is_active=True)
    assert [e.name for e in endpoints] == ["a", "b", "c"] and endpoints[0].cache_age_seconds == 3600
    second = route.calls[1].request
    assert second.url.host == httpx.URL(HOST).host and second.url.scheme == "https"
    assert second.url.params == httpx.QueryParams({"limit": "2", "offset": "2"})
    assert second.headers["authorization"] == f"Bearer {KEY}"
    assert client.dialect == "current"


def test_a_documented_server_that_paginates_stays_documented(client, api):
    api.get(BASE).mock(
        side_effect=[
            httpx.Response(
                200, json={"count": 2, "next": f"{HOST}{BASE}?offset=1", "results": [endpoint_json("a")]}
            ),
            httpx.Response(200, json={"count": 2, "next": None, "results": [endpoint_json("b")]}),
        ]
    )
    assert [e.name for e in client.list_endpoints()] == ["a", "b"] and client.dialect == "documented"


def test_a_next_link_that_repeats_is_refused(client, api):
    page = {"count": 9, "next": f"{HOST}{BASE}?offset=1", "results": [endpoint_json("a")]}
    route = api.get(BASE).respond(json=page)
    with pytest.raises(Exception, match="repeats"):
        client.list_endpoints()
    assert route.call_count == 2


def test_current_versions_are_paginated_endpoint_shaped_items(current, api):
    def version(n: int) -> dict:
        return current_endpoint(
            version=n,
            version_id=f"ver-{n}",
            version_created_at=f"2026-0{n}-01T00:00:00Z",
            endpoint_is_active=True,
            is_active=n == 2,
        )

    route = api.get(f"{BASE}daily_signups/versions/").mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "count": 2,
                    "next": f"{HOST}{BASE}daily_signups/versions/?limit=1&offset=1",
                    "previous": None,
                    "results": [version(2)],
                },
            ),
            httpx.Response(200, json={"count": 2, "next": None, "previous": None, "results": [version(1)]}),
        ]
    )
    versions = current.list_versions("daily_signups")
    assert [(v.version, v.id, v.is_active, v.created_at.month) for v in versions] == [
        (2, "ver-2", True, 2),
        (1, "ver-1", False, 1),
    ]
    assert route.call_count == 2 and versions[0].raw["id"] == endpoint_json()["id"]


def test_get_version_on_current_reads_the_endpoint_at_that_version(current, api):
    old = api.get(f"{BASE}daily_signups/versions/1/").respond(404)
    route = api.get(f"{BASE}daily_signups/").respond(
        json=current_endpoint(version=1, version_id="ver-1", version_created_at="2026-01-05T00:00:00Z")
    )
    version = current.get_version("daily_signups", 1)
    assert route.calls.last.request.url.params == httpx.QueryParams({"version": "1"}) and old.call_count == 0
    assert (version.version, version.id, version.created_at.day) == (1, "ver-1", 5)


def test_auto_get_version_falls_back_once_to_the_current_route(client, api):
    old = api.get(f"{BASE}daily_signups/versions/2/").respond(
        404, json={"type": "invalid_request", "code": "not_found", "detail": "Not found."}
    )
    api.get(f"{BASE}daily_signups/").respond(json=current_endpoint(version=2, version_id="ver-2"))
    assert client.get_version("daily_signups", 2).id == "ver-2"
    assert old.call_count == 1 and client.dialect == "current"


def test_auto_get_version_keeps_a_documented_version_not_found(client, api):
    api.get(f"{BASE}daily_signups/versions/7/").respond(404, json={"error": "Version 7 not found"})
    fallback = api.get(f"{BASE}daily_signups/").respond(json=endpoint_json())
    with pytest.raises(Exception, match="Version 7"):
        client.get_version("daily_signups", 7)
    assert fallback.call_count == 0


def test_create_and_update_send_data_freshness_seconds(current, api):
    create = api.post(BASE).respond(201, json=current_endpoint("new_one", data_freshness_seconds=3600))
    endpoint = current.create_endpoint("new_one", "SELECT 1", cache_age_seconds=3600)
    assert json.loads(create.calls.last.request.content) == {
        "name": "new_one",
        "query": {"kind": "HogQLQuery", "query": "SELECT 1"},
        "data_freshness_seconds": 3600,
    }
    assert endpoint.cache_age_seconds == 3600
    patch = api.patch(f"{BASE}daily_signups/").respond(json=current_endpoint(data_freshness_seconds=86400))
    current.update_endpoint("daily_signups", cache_age_seconds=86400)
    assert json.loads(patch.calls.last.request.content) == {"data_freshness_seconds": 86400}


@pytest.mark.parametrize("bad", [300, 7200, 86401, True])
def test_a_freshness_the_server_does_not_allow_is_refused_before_sending(current, api, bad):
    with pytest.raises(InvalidRequestError) as info:
        current.create_endpoint("new_one", "SELECT 1", cache_age_seconds=bad)
    with pytest.raises(InvalidRequestError):
        current.update_endpoint("daily_signups", data_freshness_seconds=bad)
    text = str(info.value)
    assert info.value.attr == "data_freshness_seconds" and "'new_one'" in text
    assert all(str(seconds) in text for seconds in DATA_FRESHNESS_SECONDS)
    assert not api.calls


def test_documented_dialect_sends_cache_age_seconds(fake_time, api):
    client = make_client(fake_time, api_dialect="documented")
    route = api.patch(f"{BASE}daily_signups/").respond(json=endpoint_json())
    client.update_endpoint("daily_signups", data_freshness_seconds=900)
    assert json.loads(route.calls.last.request.content) == {"cache_age_seconds": 900}
    client.close()


# -- auto-detection --------------------------------------------------------------------------------


def test_auto_detects_current_from_a_list_and_never_sends_variables_values(client, api):
    api.get(BASE).respond(json={"count": 1, "next": None, "previous": None, "results": [current_endpoint()]})
    server = CurrentServer(2)
    api.post(RUN).mock(side_effect=server)
    assert client.dialect == "documented"
    client.list_endpoints()
    client.run_endpoint("daily_signups", variables={"since": "x"}, refresh="force_async")
    assert client.dialect == "current" and len(server.bodies) == 1
    assert server.bodies[0].pop("client_query_id")
    assert server.bodies[0] == {"variables": {"since": "x"}, "refresh": "force", "limit": 1000}


def test_an_empty_paginated_list_is_enough_to_tell(client, api):
    api.get(BASE).respond(json={"count": 0, "next": None, "previous": None, "results": []})
    client.list_endpoints()
    assert client.dialect == "current"


def test_auto_detects_current_from_a_get_endpoint(client, api):
    api.get(f"{BASE}daily_signups/").respond(json=current_endpoint())
    assert client.get_endpoint("daily_signups").cache_age_seconds == 3600
    assert client.dialect == "current"


def test_auto_switches_after_one_refused_run_and_never_sends_variables_values_again(client, api):
    server = CurrentServer(3)
    route = api.post(RUN).mock(side_effect=server)
    first = client.run_endpoint("daily_signups", variables={"since": "x"})
    assert first.row_count == 3 and client.dialect == "current"
    for _ in range(3):
        client.run_endpoint("daily_signups", variables={"since": "y"}, refresh="force_blocking")
    sent = [body(call) for call in route.calls]
    assert len(sent) == 5  # one refused documented body, then only current ones
    assert "variables_values" in sent[0] and "client_query_id" in sent[0]
    assert all("variables_values" not in b and b["client_query_id"] for b in sent[1:])
    assert {k: v for k, v in sent[1].items() if k != "client_query_id"} == {
        "variables": {"since": "x"},
        "refresh": "cache",
        "limit": 1000,
    }
    assert [b["refresh"] for b in sent[2:]] == ["force"] * 3


@pytest.mark.parametrize(
    "refusal",
    [
        {
            "type": "validation_error",
            "code": "invalid_input",
            "detail": "Only sync modes are supported (refresh param)",
            "attr": None,
        },
        {"variables_values": ["Extra inputs are not permitted"]},
        {
            "type": "validation_error",
            "detail": "Input should be 'cache', 'force' or 'direct'",
            "attr": "refresh",
        },
    ],
    ids=["only-sync", "drf-field-dict", "refresh-enum"],
)
def test_each_refusal_shape_switches_once(client, api, refusal):
    route = api.post(RUN).mock(
        side_effect=[
            httpx.Response(400, json=refusal),
            httpx.Response(200, json=current_run_json([["d", 1]])),
        ]
    )
    assert client.run_endpoint("daily_signups", variables={"since": "x"}).row_count == 1
    assert route.call_count == 2 and "variables" in body(route.calls.last) and client.dialect == "current"


def test_a_second_refusal_is_raised_not_resent(client, api):
    refusal = {
        "type": "validation_error",
        "detail": "Extra inputs are not permitted",
        "attr": "variables_values",
    }
    route = api.post(RUN).respond(400, json=refusal)
    with pytest.raises(InvalidRequestError):
        client.run_endpoint("daily_signups", variables={"since": "x"})
    assert route.call_count == 2


def test_an_unknown_variable_on_a_documented_server_is_not_a_dialect(client, api):
    route = api.post(RUN).respond(
        400,
        json={"type": "validation_error", "attr": "variables_values", "detail": "Unknown variable(s): nope"},
    )
    with pytest.raises(InvalidRequestError, match="nope"):
        client.run_endpoint("daily_signups", variables={"nope": 1})
    assert route.call_count == 1 and client.dialect == "documented"


def test_what_one_client_learnt_the_next_client_of_the_process_starts_from(fake_time, client, api):
    server = CurrentServer(2)
    api.post(RUN).mock(side_effect=server)
    client.run_endpoint("daily_signups", variables={"since": "x"})  # refused once, resent
    later = [make_client(fake_time) for _ in range(3)]  # as Dagster makes one per step and tick
    for each in later:
        assert each.dialect == "current"
        each.run_endpoint("daily_signups", variables={"since": "y"})
        each.close()
    assert sum("variables_values" in b for b in server.bodies) == 1 and len(server.bodies) == 5


def test_the_memory_is_per_host_and_project_and_can_be_forgotten(fake_time, client, api):
    from endpoints_dagster.client.dialects.state import forget_learned_dialects

    api.get(BASE).respond(json={"count": 0, "next": None, "previous": None, "results": []})
    client.list_endpoints()
    other_project = EndpointsClient(HOST, PROJECT + 1, KEY)
    other_host = EndpointsClient("https://eu.posthog.example.com", PROJECT, KEY)
    fixed = make_client(fake_time, api_dialect="documented")
    assert make_client(fake_time).dialect == "current"
    assert other_project.dialect == other_host.dialect == fixed.dialect == "documented"
    for each in (other_project, other_host, fixed):
        each.close()
    forget_learned_dialects()
    assert make_client(fake_time).dialect == "documented"


def test_a_remembered_current_dialect_the_server_refuses_in_documented_words_switches_back(
    fake_time, client, api
):
    api.get(BASE).respond(json={"count": 0, "next": None, "previous": None, "results": []})
    client.list_endpoints()  # learnt: current
    refusal = {
        "type": "validation_error",
        "code": "invalid_input",
        "attr": "refresh",
        "detail": "refresh must be one of blocking, async, lazy_async, force_blocking, force_async, force_cache",
    }
    route = api.post(RUN).mock(
        side_effect=[
            httpx.Response(400, json=refusal),
            httpx.Response(200, json=run_json([["2026-01-01", 1]])),
        ]
    )
    again = make_client(fake_time)
    assert again.run_endpoint("daily_signups", variables={"since": "x"}).row_count == 1
    assert [("variables" in body(c), "variables_values" in body(c)) for c in route.calls] == [
        (True, False),
        (False, True),
    ]
    assert again.dialect == "documented" and make_client(fake_time).dialect == "documented"
    # A client that saw the current dialect itself does not flip on such a refusal.
    client.list_endpoints()
    api.post(RUN).respond(400, json=refusal)
    with pytest.raises(InvalidRequestError):
        client.run_endpoint("daily_signups")
    assert client.dialect == "current"


def test_a_current_refresh_name_guessed_wrong_is_resent_documented_once(client, api):
    refusal = {
        "type": "validation_error",
        "code": "invalid_input",
        "attr": "refresh",
        "detail": "refresh must be one of blocking, async, lazy_async, force_blocking, force_async, force_cache",
    }
    post = api.post(RUN).respond(400, json=refusal)
    get = api.get(RUN).respond(
        json=run_json([["2026-01-01", 1]])
    )  # blocking, nothing else: the documented plain GET
    assert client.run_endpoint("daily_signups", refresh="cache").row_count == 1
    assert body(post.calls.last)["refresh"] == "cache" and post.call_count == get.call_count == 1
    assert client.dialect == "documented"


def test_cancelling_during_an_open_synchronous_run_stops_the_query_by_its_id(current, api):
    """Dagster's termination sets the event while the worker thread still waits for the answer."""
    deleted = threading.Event()
    cancel = api.delete(url__regex=rf"{BASE.replace('endpoints/', '')}query/.+/").mock(
        side_effect=lambda request: (
            deleted.set() or httpx.Response(200, json={"message": "Query task revoked"})
        )
    )

    def hold(request: httpx.Request) -> httpx.Response:  # PostHog answers once the query is killed
        assert deleted.wait(10), "the open run was not cancelled"
        return httpx.Response(
            400,
            json={
                "type": "validation_error",
                "code": "query_cancelled",
                "detail": "Query cancelled",
                "attr": None,
            },
        )

    run = api.post(RUN).mock(side_effect=hold)
    event = threading.Event()
    threading.Timer(0.2, event.set).start()
    with pytest.raises(QueryCancelledError):
        current.run_endpoint("daily_signups", cancel_event=event)
    sent_id = body(run.calls.last)["client_query_id"]
    assert cancel.call_count == 1 and cancel.calls.last.request.url.path.endswith(f"/query/{sent_id}/")


def test_a_fixed_documented_client_never_switches(fake_time, api):
    client = make_client(fake_time, api_dialect="documented")
    route = api.post(RUN).respond(
        400, json={"detail": "Extra inputs are not permitted", "attr": "variables_values"}
    )
    with pytest.raises(InvalidRequestError):
        client.run_endpoint("daily_signups", variables={"since": "x"})
    assert route.call_count == 1 and client.dialect == "documented"
    client.close()


def test_a_run_result_with_endpoint_version_tells_current(client, api):
    api.post(RUN).respond(json=current_run_json([]))  # a server that accepted the documented body
    client.run_endpoint("daily_signups", variables={"since": "x"})
    assert client.dialect == "current"


def test_documented_evidence_keeps_the_plain_get(client, api):
    api.get(f"{BASE}daily_signups/").respond(json=endpoint_json())
    route = api.get(RUN).respond(json=run_json([["d", 1]]))
    client.get_endpoint("daily_signups")
    client.run_endpoint("daily_signups")
    assert client.dialect == "documented" and route.calls.last.request.content == b""


def test_direct_on_an_undecided_client_is_sent_in_the_current_shape(client, api):
    server = CurrentServer(1)
    api.post(RUN).mock(side_effect=server)
    client.run_endpoint("daily_signups", refresh="direct")
    [sent] = server.bodies
    assert sent.pop("client_query_id") and sent == {"refresh": "direct", "limit": 1000}
    assert client.dialect == "current"


def test_direct_on_a_documented_server_is_refused_before_sending(fake_time, api):
    client = make_client(fake_time, api_dialect="documented")
    with pytest.raises(InvalidRequestError, match="direct"):
        client.run_endpoint("daily_signups", refresh="direct")
    assert not api.calls
    route = api.post(RUN).respond(json=run_json([]))
    client.run_endpoint("daily_signups", refresh="force")
    assert body(route.calls.last)["refresh"] == "force_blocking"
    client.close()


def test_auto_create_refused_for_cache_age_is_resent_as_data_freshness(client, api):
    refusal = {
        "type": "validation_error",
        "detail": "Extra inputs are not permitted",
        "attr": "cache_age_seconds",
    }
    route = api.post(BASE).mock(
        side_effect=[httpx.Response(400, json=refusal), httpx.Response(201, json=current_endpoint("new_one"))]
    )
    client.create_endpoint("new_one", "SELECT 1", cache_age_seconds=3600)
    assert [json.loads(c.request.content).get("data_freshness_seconds") for c in route.calls] == [None, 3600]
    assert client.dialect == "current"


def test_auto_create_with_a_disallowed_age_is_not_resent(client, api):
    refusal = {
        "type": "validation_error",
        "detail": "Extra inputs are not permitted",
        "attr": "cache_age_seconds",
    }
    route = api.post(BASE).respond(400, json=refusal)
    with pytest.raises(InvalidRequestError, match="604800"):
        client.create_endpoint("new_one", "SELECT 1", cache_age_seconds=300)
    assert route.call_count == 1 and client.dialect == "current"


def test_a_refused_create_without_dialect_fields_is_not_resent(client, api):
    route = api.post(BASE).respond(400, json={"detail": "Extra inputs are not permitted", "attr": "name"})
    with pytest.raises(InvalidRequestError):
        client.create_endpoint("new_one", "SELECT 1")
    assert route.call_count == 1


def test_api_dialect_is_validated_and_passed_by_the_resource(fake_time):
    from endpoints_dagster import PostHogEndpointsResource

    with pytest.raises(ValueError, match="api_dialect"):
        make_client(fake_time, api_dialect="newest")
    resource = PostHogEndpointsResource(
        host=HOST, project_id=str(PROJECT), personal_api_key=KEY, api_dialect="current"
    )
    with resource.get_client() as client:
        assert (client.api_dialect, client.dialect) == ("current", "current")
    with PostHogEndpointsResource(
        host=HOST, project_id=str(PROJECT), personal_api_key=KEY
    ).get_client() as client:
        assert (client.api_dialect, client.dialect) == ("auto", "documented")
