"""Frames: run responses to typed DataFrames, time against orjson.loads and peak memory of paging.

Issue 8, "Frames": (a) a 50,000-row x 8-column run response, bytes -> typed DataFrame, at most 2x
the time of ``orjson.loads`` of the same bytes; (b) 1,000,000 rows in 20 pages -> one DataFrame,
peak memory at most 3x the final frame's ``memory_usage(deep=True)``.
"""

from __future__ import annotations

import gc
import time

import httpx
import numpy as np
import orjson
import pandas as pd

from bench.common import BenchRow, fmt, peak_memory, timeit_best, timeit_interleaved
from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.frames.pandas import concat_frames, to_dataframe

COLUMNS = ["id", "value", "distinct_id", "maybe", "timestamp", "day", "tags", "flag"]
TYPES = [
    ["id", "UInt64"],
    ["value", "Float64"],
    ["distinct_id", "String"],
    ["maybe", "Nullable(Int64)"],
    ["timestamp", "DateTime64(6, 'UTC')"],
    ["day", "Date"],
    ["tags", "Array(String)"],
    ["flag", "Bool"],
]
EVENTS = ["$pageview", "$autocapture", "signup", "$identify", "purchase"]
PAGE = 50_000
MB = 1e6


def response(n: int, offset: int = 0, seed: int = 0) -> bytes:
    """A run response body as PostHog writes it (documented dialect), rows ``offset..offset+n``.

    Timestamps use PostHog's form (``...Z``, microseconds; Python drops ``.000000`` at whole
    seconds, so 1% of them are shorter), 10% of ``maybe`` is NULL, ``tags`` hold 0-2 strings.
    """
    rng = np.random.default_rng(seed)
    ids = np.arange(offset, offset + n)
    micros = (
        np.datetime64("2026-01-01T00:00:00", "us").astype(np.int64)
        + ids * 7_000_000
        + rng.integers(0, 10**6, n)
    )
    micros[::100] -= micros[::100] % 1_000_000
    stamps = np.datetime_as_string(micros.view("M8[us]"), unit="us").tolist()
    maybe = rng.integers(-(10**6), 10**6, n).tolist()
    maybe[::10] = [None] * len(maybe[::10])
    rows = list(
        zip(
            ids.tolist(),
            (rng.random(n) * 100).round(6).tolist(),
            [f"0190a7c3-{x:012x}" for x in rng.integers(0, 2**48, n).tolist()],
            maybe,
            [s.removesuffix(".000000") + "Z" for s in stamps],
            np.datetime_as_string(micros.view("M8[us]").astype("M8[D]")).tolist(),
            [EVENTS[i % 5 : i % 5 + i % 3] for i in ids.tolist()],
            (ids % 2 == 0).tolist(),
            strict=True,
        )
    )
    return orjson.dumps(
        {
            "results": rows,
            "columns": COLUMNS,
            "types": TYPES,
            "hasMore": offset + n < 10**6,
            "limit": n,
            "offset": offset,
            "is_cached": False,
            "cache_key": "bench",
            "last_refresh": "2026-11-20T08:00:00Z",
            "next_allowed_client_refresh": "2026-11-20T08:01:00Z",
            "timezone": "UTC",
            "query_status": None,
            "name": "bench_events",
            "_version": 1,
            "_version_created_at": "2026-11-01T00:00:00Z",
        }
    )


def frame_of(body: bytes) -> pd.DataFrame:
    data = orjson.loads(body)
    return to_dataframe(
        data["columns"], data["types"], data["results"], timezone=data.get("timezone") or "UTC"
    )


def naive_frame(body: bytes) -> pd.DataFrame:
    """The approach the issue rules out: a row-wise DataFrame, then per-column conversions."""
    data = orjson.loads(body)
    df = pd.DataFrame(data["results"], columns=data["columns"])
    df["id"] = df["id"].astype("uint64")
    df["distinct_id"] = df["distinct_id"].astype("string")
    df["maybe"] = df["maybe"].astype("Int64")
    df["timestamp"] = pd.to_datetime(df["timestamp"], format="ISO8601", utc=True)
    df["day"] = pd.to_datetime(df["day"], format="ISO8601")
    return df


def single_response() -> list[BenchRow]:
    body = response(PAGE, seed=1)
    t_loads, t_frame = timeit_interleaved(lambda: orjson.loads(body), lambda: frame_of(body), repeat=11)
    data = orjson.loads(body)
    t_to_df = timeit_best(lambda: to_dataframe(data["columns"], data["types"], data["results"]), repeat=7)
    (t_naive,) = timeit_interleaved(lambda: naive_frame(body), repeat=3)
    ratio = t_frame / t_loads
    return [
        BenchRow(
            "50,000 x 8 response: bytes -> typed DataFrame (orjson.loads + to_dataframe)",
            t_frame * 1e3,
            "ms",
            t_loads * 1e3,
            "<= 2x baseline (orjson.loads of the same bytes)",
            ratio <= 2,
            f"{ratio:.2f}x; best of 11, interleaved, GC on; {len(body) / MB:.1f} MB body; "
            "UInt64, Float64, String, Nullable(Int64), DateTime64(6, 'UTC'), Date, Array(String), Bool",
        ),
        BenchRow(
            "to_dataframe alone (rows already parsed)",
            t_to_df * 1e3,
            "ms",
            t_loads * 1e3,
            "about 1x orjson.loads",
            None,
            f"{t_to_df / t_loads:.2f}x; the largest parts: transposing the rows (zip) and parsing the two date columns",
        ),
        BenchRow(
            "same response, row-wise pd.DataFrame then conversions (ruled-out approach)",
            t_naive * 1e3,
            "ms",
            t_loads * 1e3,
            "reference",
            None,
            f"{t_naive / t_loads:.2f}x orjson.loads; {t_naive / t_frame:.1f}x slower",
        ),
    ]


def paged() -> list[BenchRow]:
    pages = [response(PAGE, i * PAGE, seed=i) for i in range(20)]

    def per_page() -> pd.DataFrame:  # what the client should do: convert each page, drop its rows
        frames = [frame_of(body) for body in pages]
        return concat_frames(frames)

    def all_rows_then_frame() -> pd.DataFrame:  # keeping every raw row until the end (half the pages)
        rows: list = []
        for body in pages[:10]:
            rows.extend(orjson.loads(body)["results"])
        return to_dataframe(COLUMNS, TYPES, rows)

    (t_loads,) = timeit_interleaved(lambda: [orjson.loads(b) and None for b in pages], repeat=2)
    t_pages = timeit_best(per_page, repeat=1)
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        per_page()
        t_no_gc = time.perf_counter() - start
    finally:
        gc.enable()
    df, peak = peak_memory(per_page, pause_gc=True)
    final = int(df.memory_usage(deep=True).sum())
    assert len(df) == 20 * PAGE and df["id"].is_monotonic_increasing
    client_df, client_peak = peak_memory(lambda: through_client(pages))
    client_final = int(client_df.memory_usage(deep=True).sum())
    assert client_df.equals(df), "the client's paged frame differs from per-page to_dataframe + concat_frames"
    del df, client_df
    naive_df, naive_peak = peak_memory(all_rows_then_frame, pause_gc=True)
    naive_final = int(naive_df.memory_usage(deep=True).sum())
    return [
        BenchRow(
            "1,000,000 rows in 20 pages -> one DataFrame: peak memory (per-page to_dataframe + concat_frames)",
            peak / MB,
            "MB",
            final / MB,
            "<= 3x baseline (final frame's memory_usage(deep=True))",
            peak <= 3 * final,
            f"{peak / final:.2f}x; tracemalloc peak, response bytes not counted ({len(pages[0]) / MB:.1f} MB/page); "
            "memory_usage(deep=True) omits the strings inside Array(String) lists, so the ratio errs high",
        ),
        BenchRow(
            "same 20 pages through EndpointsClient.run_endpoint(...).to_pandas(): peak memory",
            client_peak / MB,
            "MB",
            client_final / MB,
            "<= 3x baseline (final frame's memory_usage(deep=True))",
            client_peak <= 3 * client_final,
            f"{client_peak / client_final:.2f}x; the client converts each page as it arrives (GC paused while paging); "
            "response bytes counted (httpx.MockTransport, no sockets)",
        ),
        BenchRow(
            "500,000 rows (10 pages), keeping every raw row and converting once at the end",
            naive_peak / MB,
            "MB",
            naive_final / MB,
            "reference",
            None,
            f"{naive_peak / naive_final:.2f}x its final frame",
        ),
        BenchRow(
            "1,000,000 rows in 20 pages -> one DataFrame: time",
            t_pages,
            "s",
            t_loads,
            "reference (orjson.loads of the 20 pages)",
            None,
            f"{t_pages / t_loads:.2f}x; with the cyclic GC paused while paging: {fmt(t_no_gc)} s "
            f"({t_no_gc / t_loads:.2f}x): the GC re-scans the kept Array(String) lists on every page",
        ),
    ]


def through_client(pages: list[bytes]) -> pd.DataFrame:
    """The client's own paging (page_size 50,000) over the given bodies, served in-process."""

    def serve(request: httpx.Request) -> httpx.Response:
        offset = (orjson.loads(request.content) if request.content else {}).get("offset") or 0
        return httpx.Response(
            200, content=pages[offset // PAGE], headers={"content-type": "application/json"}
        )

    with EndpointsClient(
        "http://127.0.0.1:1", 1, "phx_bench", transport=httpx.MockTransport(serve), max_rows=None
    ) as client:
        return client.run_endpoint("bench_events", variables={"since": "2026-01-01"}).to_pandas()


def run() -> list[BenchRow]:
    return single_response() + paged()
