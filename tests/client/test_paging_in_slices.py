"""Later pages of Arrow and row-less runs are read a slice of rows at a time, with the same result.

The thresholds are lowered so two-row pages are split (in use: bodies of 2 MB, slices of 1 MB).
Cases a real server does not produce (a body broken mid-rows, a page without ``offset``) are served
here; the local server's paging is covered in ``tests/frames/test_result_digest.py``.
"""

from __future__ import annotations

import json

import httpx
import orjson
import pytest
from client_fakes import BASE, run_json

from endpoints_dagster.client.errors import PaginationError, PostHogEndpointsError
from endpoints_dagster.client.runs import page_body
from endpoints_dagster.client.runs.digest import digest_of

pa = pytest.importorskip("pyarrow")

RUN = f"{BASE}daily_signups/run/"
ROWS = [[f"2026-01-{i:02d}", i] for i in range(1, 8)]
COLUMNS = ["day", "signups"]
TYPES = [["day", "Date"], ["signups", "UInt64"]]


@pytest.fixture
def slices(monkeypatch) -> list[int]:
    """Split every page into one-row slices; the sizes of the slices read, in order."""
    monkeypatch.setattr(page_body, "SPLIT_FROM_BYTES", 0)
    monkeypatch.setattr(page_body, "CHUNK_BYTES", 8)
    sizes: list[int] = []
    read = page_body.PageRows.read

    def counted(self, take):
        return read(self, lambda part: (sizes.append(len(part)), take(part)))

    monkeypatch.setattr(page_body.PageRows, "read", counted)
    return sizes


def serve_pages(api, rows, *, body_of=None, **extra):
    """Two rows a page; ``body_of(offset, body_bytes)`` may rewrite a page's body."""

    def answer(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        offset, limit = sent.get("offset") or 0, sent["limit"]
        page = run_json(
            rows[offset : offset + limit],
            has_more=offset + limit < len(rows),
            offset=offset,
            limit=limit,
            **extra,
        )
        content = orjson.dumps(page)
        if body_of is not None:
            content = body_of(offset, content)
        return httpx.Response(200, content=content, headers={"content-type": "application/json"})

    return api.post(RUN).mock(side_effect=answer)


def test_an_arrow_run_reads_later_pages_in_slices_and_lands_the_same_table(paged, api, slices):
    serve_pages(api, ROWS)
    sliced = paged.run_endpoint("daily_signups", variables={"since": "x"}, frame_type="arrow")
    assert slices == [1] * 5  # pages 2-4 (the first page is parsed whole), one row a slice
    slices.clear()
    whole = paged.run_endpoint("daily_signups", variables={"since": "x"})  # pandas: never sliced
    assert slices == []
    table = sliced.to_arrow()
    assert table.num_rows == 7 and sliced.row_count == 7 and sliced.pages == 4
    assert table.column("signups").to_pylist() == [n for _, n in ROWS]
    assert table.equals(whole.to_arrow())
    assert sliced.data_version == whole.data_version == digest_of(COLUMNS, TYPES, "UTC", ROWS)


def test_a_run_keeping_no_rows_counts_and_versions_the_slices(paged, api, slices):
    serve_pages(api, ROWS)
    probe = paged.run_endpoint("daily_signups", variables={"since": "x"}, frame_type="none")
    assert sum(slices) == 5 and probe.row_count == 7
    assert probe.data_version == digest_of(COLUMNS, TYPES, "UTC", ROWS)


def test_a_page_broken_after_its_first_rows_fails_the_run_as_not_json(paged, api, slices):
    def broken(offset, content):  # the page at offset 4: its second row loses a quote
        return content.replace(b'"2026-01-06"', b'"2026-01-06', 1) if offset == 4 else content

    serve_pages(api, ROWS, body_of=broken)
    with pytest.raises(PostHogEndpointsError, match="not JSON") as caught:
        paged.run_endpoint("daily_signups", variables={"since": "x"}, frame_type="arrow")
    assert caught.value.endpoint == "daily_signups"
    assert 1 in slices  # the first row of the broken page was read before the break was seen


def test_rows_read_before_a_fallback_are_not_counted_twice(paged, api, slices):
    # Without ``offset`` the "same rows again" check needs the page's rows: the sliced read is
    # undone and the page parsed whole.
    def without_offset(offset, content):
        page = orjson.loads(content)
        del page["offset"]
        return orjson.dumps(page)

    serve_pages(api, ROWS, body_of=without_offset)
    result = paged.run_endpoint("daily_signups", variables={"since": "x"}, frame_type="arrow")
    assert sum(slices) == 5  # read in slices, then undone
    assert result.row_count == 7 and result.to_arrow().column("signups").to_pylist() == list(range(1, 8))
    assert result.data_version == digest_of(COLUMNS, TYPES, "UTC", ROWS)


def test_a_server_ignoring_offset_is_still_caught_when_pages_are_sliced(paged, api, slices):
    def same_rows(request: httpx.Request) -> httpx.Response:
        page = run_json(ROWS[:2], has_more=True, limit=2)
        del page["offset"]
        return httpx.Response(200, content=orjson.dumps(page), headers={"content-type": "application/json"})

    api.post(RUN).mock(side_effect=same_rows)
    with pytest.raises(PaginationError, match="same rows again"):
        paged.run_endpoint("daily_signups", variables={"since": "x"}, frame_type="arrow")
