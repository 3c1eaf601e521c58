"""Large paged runs are kept as DataFrames built page by page, not as JSON rows.

The switch happens past ``KEEP_ROWS_UP_TO`` rows (50,000 in use; lowered here so a few rows show it).
"""

from __future__ import annotations

import gc
import json

import httpx
import pandas as pd
import pytest
from client_fakes import BASE, make_client, run_json

from endpoints_dagster.client.errors import PostHogEndpointsError
from endpoints_dagster.client.runs import pages as _pages
from endpoints_dagster.client.runs.pages import PageCollector, paused_gc
from endpoints_dagster.frames.pandas import to_dataframe

RUN = f"{BASE}daily_signups/run/"
ROWS = [[f"2026-01-{i:02d}", i] for i in range(1, 8)]
TYPES = [["day", "Date"], ["signups", "UInt64"]]


@pytest.fixture
def small_threshold(monkeypatch):
    monkeypatch.setattr(_pages, "KEEP_ROWS_UP_TO", 3)


def serve_pages(api, rows, page=2, **extra):
    def answer(request: httpx.Request) -> httpx.Response:
        import json

        sent = json.loads(request.content)
        offset, limit = sent.get("offset") or 0, sent["limit"]
        chunk = rows[offset : offset + limit]
        return httpx.Response(
            200,
            json=run_json(chunk, has_more=offset + limit < len(rows), offset=offset, limit=limit, **extra),
        )

    return api.post(RUN).mock(side_effect=answer)


def test_a_large_paged_run_is_one_typed_frame_equal_to_converting_every_row(paged, api, small_threshold):
    serve_pages(api, ROWS)
    result = paged.run_endpoint("daily_signups", variables={"since": "x"})
    assert result.pages == 4 and result.row_count == 7
    frame = result.to_pandas()
    pd.testing.assert_frame_equal(frame, to_dataframe(["day", "signups"], TYPES, ROWS))
    assert frame.index.equals(pd.RangeIndex(7))
    assert result.to_pandas() is frame  # kept, not rebuilt


def test_results_of_a_frame_backed_run_are_rebuilt_from_the_frame(paged, api, small_threshold):
    serve_pages(api, ROWS)
    result = paged.run_endpoint("daily_signups", variables={"since": "x"})
    rows = result.results
    assert rows == [[pd.Timestamp(day), n] for day, n in ROWS]
    assert result.results is rows  # built once


def test_a_small_paged_run_keeps_the_json_rows_exactly(paged, api):
    serve_pages(api, ROWS)
    result = paged.run_endpoint("daily_signups", variables={"since": "x"})
    assert result.results == ROWS and result.pages == 4


def test_nulls_come_back_as_none_from_a_frame(paged, api, small_threshold):
    rows = [[None if i % 3 == 0 else f"2026-01-{i:02d}", None if i % 2 else i] for i in range(1, 8)]
    serve_pages(api, rows, types=[["day", "Nullable(Date)"], ["signups", "Nullable(UInt64)"]])
    result = paged.run_endpoint("daily_signups", variables={"since": "x"})
    assert [[d if d is None else d.strftime("%Y-%m-%d"), n] for d, n in result.results] == rows


def test_a_limit_reached_mid_page_trims_the_frames(paged, api, small_threshold):
    serve_pages(api, ROWS)
    result = paged.run_endpoint("daily_signups", variables={"since": "x"}, limit=5)
    assert result.row_count == 5 and result.has_more is True
    assert result.to_pandas()["signups"].tolist() == [1, 2, 3, 4, 5]


def test_datetimes_without_a_zone_use_the_results_timezone(paged, api, small_threshold):
    rows = [[f"2026-01-0{i} 08:00:00", i] for i in range(1, 6)]
    serve_pages(api, rows, types=[["at", "DateTime64(6)"], ["n", "UInt64"]], timezone="America/New_York")
    frame = paged.run_endpoint("daily_signups", variables={"since": "x"}).to_pandas()
    assert str(frame["day"].dtype) == "datetime64[ns, America/New_York]"
    assert frame["day"].iloc[0] == pd.Timestamp("2026-01-01 08:00", tz="America/New_York")


def test_a_one_page_result_uses_the_timezone_too(client, api):
    api.get(RUN).respond(
        json=run_json(
            [["2026-01-01 08:00:00", 1]], types=[["at", "DateTime"], ["n", "UInt64"]], timezone="Europe/Paris"
        )
    )
    frame = client.run_endpoint("daily_signups").to_pandas()
    assert str(frame["day"].dtype) == "datetime64[ns, Europe/Paris]"


def test_a_malformed_page_fails_with_the_endpoint_and_offset(paged, api, small_threshold):
    rows = [r[:] for r in ROWS]
    rows[5] = [rows[5][0]]  # a row with one value for two columns
    serve_pages(api, rows)
    with pytest.raises(
        PostHogEndpointsError, match=r"endpoint 'daily_signups' at offset 4.*row 5 has 1 values"
    ):
        paged.run_endpoint("daily_signups", variables={"since": "x"})


def test_the_garbage_collector_is_paused_while_paging_and_restored_after(paged, api, small_threshold):
    seen: list[bool] = []
    route = serve_pages(api, ROWS)
    inner = route.side_effect

    def spy(request):
        seen.append(gc.isenabled())
        return inner(request)

    route.side_effect = spy
    assert gc.isenabled()
    paged.run_endpoint("daily_signups", variables={"since": "x"})
    assert seen[0] is True and seen[1:] == [False, False, False] and gc.isenabled()

    api.post(RUN).mock(
        side_effect=[
            httpx.Response(200, json=run_json(ROWS[:2], has_more=True, limit=2)),
            httpx.Response(400, json={"detail": "boom"}),
        ]
    )
    with pytest.raises(PostHogEndpointsError):
        paged.run_endpoint("daily_signups", variables={"since": "x"})
    assert gc.isenabled()


@pytest.mark.parametrize("frame_type", ["pandas", "arrow"])
def test_each_page_body_is_freed_while_the_collector_is_paused(fake_time, small_threshold, frame_type):
    # httpx's response and its stream refer to each other: unless the client breaks that cycle, each
    # page's body waits for the (paused) cyclic collector and every page stays in memory.
    bodies: list[int] = []
    requests: list[httpx.Request] = []  # this run's: responses of other tests may await collection

    def answer(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        offset, limit = sent.get("offset") or 0, sent["limit"]
        ours = [o for o in gc.get_objects() if isinstance(o, httpx.Response) and o._request in requests]
        bodies.append(len(ours))
        requests.append(request)
        return httpx.Response(
            200,
            json=run_json(
                ROWS[offset : offset + limit], has_more=offset + limit < 7, offset=offset, limit=limit
            ),
        )

    client = make_client(fake_time, page_size=2, transport=httpx.MockTransport(answer))
    with client:
        result = client.run_endpoint("daily_signups", variables={"since": "x"}, frame_type=frame_type)
    assert result.pages == 4 and result.row_count == 7
    assert bodies == [0, 0, 0, 0]  # no earlier page's response is alive when the next is requested


def test_nested_pauses_restore_the_collector_once_and_only_if_it_was_on():
    assert gc.isenabled()
    with paused_gc():
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_collector_switches_at_the_threshold_and_converts_what_it_kept():
    collector = PageCollector("e", ["day", "signups"], TYPES, None, keep_rows_up_to=4)
    collector.add(ROWS[:2], 0)
    collector.add(ROWS[2:4], 2)
    assert not collector.converting and len(collector) == 4
    collector.add(ROWS[4:], 4)
    assert collector.converting and len(collector) == 7
    rows, frame = collector.finish()
    assert rows is None and frame["signups"].tolist() == list(range(1, 8))


def test_a_small_result_with_a_short_row_fails_the_run_naming_the_endpoint(client, api):
    api.get(RUN).respond(json=run_json([["2026-01-01", 1], ["2026-01-02"]]))
    with pytest.raises(
        PostHogEndpointsError,
        match=r"endpoint 'daily_signups' at offset 0 cannot be read: row 1 has 1 values but there are 2 "
        r"columns \(day, signups\)",
    ):
        client.run_endpoint("daily_signups")


@pytest.mark.parametrize("row", [["2026-01-02", 1, "extra"], None, 7])
def test_a_long_or_non_list_row_fails_the_run(client, api, row):
    api.get(RUN).respond(json=run_json([["2026-01-01", 1], row]))
    with pytest.raises(
        PostHogEndpointsError,
        match=r"endpoint 'daily_signups' .*row 1 (has 3 values|is (NoneType|int) instead of a list of 2 values)",
    ):
        client.run_endpoint("daily_signups")
