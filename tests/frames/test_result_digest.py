"""A result's data version: hashed as pages arrive, the same for the same table, another on any change.

The integration cases page a 120-row result through the local server (40 rows a page, and frames
from the second page on), so hashing and Arrow pages are exercised as in a 1,000,000-row run.
"""

from __future__ import annotations

import pytest

from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.client.errors import PostHogEndpointsError
from endpoints_dagster.client.runs import page_body
from endpoints_dagster.client.runs import pages as _pages
from endpoints_dagster.client.runs.digest import ResultDigest, digest_of
from endpoints_dagster.client.runs.pages import PageCollector

pl = pytest.importorskip("polars")

COLUMNS = ["n", "s"]
TYPES = [("n", "UInt32"), ("s", "String")]
ROWS = [[i, f"row {i}"] for i in range(10)]
QUERY = (
    "SELECT number AS n, toString(number) AS s, toDate('2026-01-01') + number AS day "
    "FROM numbers(1000) WHERE number < {variables.count} ORDER BY n"
)


def test_the_same_rows_in_other_pages_have_the_same_version():
    digest = ResultDigest(COLUMNS, TYPES, "UTC")
    for start in range(0, 10, 3):
        digest.update(ROWS[start : start + 3])
    digest.update([])
    assert digest.hexdigest() == digest_of(COLUMNS, TYPES, "UTC", ROWS)
    assert digest.hexdigest().startswith("sha256:")


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param((COLUMNS, TYPES, "UTC", [*ROWS[:-1], [9, "row 9!"]]), id="a value"),
        pytest.param((COLUMNS, TYPES, "UTC", ROWS[:-1]), id="a row less"),
        pytest.param((COLUMNS, TYPES, "UTC", [ROWS[1], ROWS[0], *ROWS[2:]]), id="the order"),
        pytest.param((["n", "t"], TYPES, "UTC", ROWS), id="a column name"),
        pytest.param((COLUMNS, [("n", "UInt64"), ("s", "String")], "UTC", ROWS), id="a type"),
        pytest.param((COLUMNS, TYPES, "Europe/Berlin", ROWS), id="the timezone"),
    ],
)
def test_any_change_gives_another_version(changed):
    assert digest_of(*changed) != digest_of(COLUMNS, TYPES, "UTC", ROWS)


def test_the_collector_hashes_only_rows_up_to_the_limit():
    collector = PageCollector("e", COLUMNS, TYPES, "UTC", limit=4)
    collector.add(ROWS[:3], 0)
    collector.add(ROWS[3:6], 3)
    assert len(collector) == 4
    assert collector.data_version == digest_of(COLUMNS, TYPES, "UTC", ROWS[:4])


def test_a_collector_keeping_nothing_still_counts_and_hashes():
    collector = PageCollector("e", COLUMNS, TYPES, "UTC", kind="none")
    collector.add(ROWS[:5], 0)
    collector.add(ROWS[5:], 5)
    assert len(collector) == 10 and collector.finish() == (None, None)
    assert collector.data_version == digest_of(COLUMNS, TYPES, "UTC", ROWS)


# --- over the local server -------------------------------------------------------------------


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(_pages, "KEEP_ROWS_UP_TO", 50)


@pytest.fixture
def endpoint(endpoint_factory):
    return endpoint_factory(QUERY, variables={"count": 120})


def client_for(server, page_size: int = 40) -> EndpointsClient:
    return EndpointsClient(server.url, server.project_id, server.api_key, page_size=page_size)


@pytest.mark.integration
def test_a_paged_run_has_the_version_of_its_rows_read_at_once(local_server, endpoint, small_pages):
    with client_for(local_server, page_size=1000) as whole:
        one = whole.run_endpoint(endpoint)
    with client_for(local_server) as paged:
        several = paged.run_endpoint(endpoint, refresh="force_blocking")
        again = paged.run_endpoint(endpoint, refresh="force_blocking")
        fewer = paged.run_endpoint(endpoint, variables={"count": 119})
    assert several.pages > one.pages and several.row_count == one.row_count == 120
    assert several.data_version == one.data_version == again.data_version
    assert fewer.data_version != one.data_version


@pytest.mark.integration
def test_arrow_pages_give_the_table_of_the_whole_result(local_server, endpoint, small_pages):
    with client_for(local_server, page_size=1000) as whole:
        expected = whole.run_endpoint(endpoint).to_arrow()
    with client_for(local_server) as paged:
        as_arrow = paged.run_endpoint(endpoint, frame_type="arrow")
        as_polars = paged.run_endpoint(endpoint, frame_type="polars")
        as_pandas = paged.run_endpoint(endpoint)
    table = as_arrow.to_arrow()
    assert as_arrow.pages >= 2 and table.num_rows == 120
    assert as_arrow._table is not None  # collected as Arrow pages, not as JSON rows
    assert table.equals(expected) and [str(t) for t in table.schema.types] == [
        "uint64",
        "string",
        "date32[day]",
    ]
    assert as_arrow.to_arrow() is table  # kept, not rebuilt
    assert as_polars.to_polars().equals(pl.from_arrow(table))
    assert as_pandas.to_arrow().equals(expected)  # pandas pages, converted column by column
    assert as_arrow.to_pandas().equals(as_pandas.to_pandas())
    assert as_arrow.data_version == as_pandas.data_version


@pytest.mark.integration
def test_pages_read_a_slice_of_rows_at_a_time_give_the_same_table(local_server, endpoint, monkeypatch):
    with client_for(local_server) as paged:
        expected = paged.run_endpoint(endpoint, frame_type="arrow")
        monkeypatch.setattr(page_body, "SPLIT_FROM_BYTES", 0)  # in use: pages of 2 MB and more
        monkeypatch.setattr(page_body, "CHUNK_BYTES", 256)
        read = page_body.PageRows.read
        sizes: list[int] = []
        monkeypatch.setattr(
            page_body.PageRows,
            "read",
            lambda self, take: read(self, lambda p: (sizes.append(len(p)), take(p))),
        )
        sliced = paged.run_endpoint(endpoint, frame_type="arrow", refresh="force_blocking")
        probe = paged.run_endpoint(endpoint, frame_type="none")
    assert sliced.pages >= 2 and probe.pages >= 2
    assert sizes and max(sizes) < 40  # later pages (of up to 40 rows) were read in smaller slices
    assert sliced.to_arrow().equals(expected.to_arrow()) and sliced.row_count == 120
    assert sliced.data_version == expected.data_version == probe.data_version


@pytest.mark.integration
def test_frame_type_none_keeps_no_rows_but_counts_and_versions_them(local_server, endpoint, small_pages):
    with client_for(local_server) as paged:
        kept = paged.run_endpoint(endpoint)
        probe = paged.run_endpoint(endpoint, frame_type="none")
    assert probe.row_count == 120 and probe.data_version == kept.data_version
    with pytest.raises(PostHogEndpointsError, match="frame_type='none'"):
        probe.to_pandas()


def test_an_unknown_frame_type_is_refused_before_any_request():
    with EndpointsClient("http://127.0.0.1:9", 1, "phx_x") as client:
        with pytest.raises(ValueError, match="frame_type"):
            client.run_endpoint("e", frame_type="excel")


def test_rows_cut_at_the_limit_are_remembered_so_the_result_says_more_exist():
    collector = PageCollector("e", COLUMNS, TYPES, "UTC", limit=4)
    collector.add(ROWS[:3], 0)
    assert not collector.cut
    collector.add(ROWS[3:6], 3)
    assert collector.cut and len(collector) == 4
