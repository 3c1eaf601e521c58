"""Arrow and Polars: 1,000,000 rows in 20 pages through the client, time and peak memory beside pandas.

Issue 17: ``run_endpoint(..., frame_type="arrow").to_arrow()`` no slower than the pandas path
(``run_endpoint(...).to_pandas()``) and at most 1.5x its final table's memory at peak. Every path
runs in its own forked process over the same 20 response bodies (the page generator of
``bench_frames``, 8 columns: UInt64, Float64, String, Nullable(Int64), DateTime64(6, 'UTC'), Date,
Array(String), Bool), served in-process by ``httpx.MockTransport``.

Peak memory is the process's peak resident set (``VmHWM``, reset through ``/proc/self/clear_refs``
before the path runs) less its resident set just before: Arrow's buffers come from its own
allocator, which ``tracemalloc`` does not see, so the resident set is the one measure fair to all
paths. Each response body is a fresh copy of its page (as if read from the socket), so the bytes
of the page in flight count too. Each path also reports the best time of two runs.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.bench_frames import PAGE, response
from bench.common import BenchRow

MB = 1e6
PAGES = 20


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _run_endpoint(pages: list[bytes], frame_type: str) -> Any:
    from endpoints_dagster.client.client import EndpointsClient

    def serve(request: httpx.Request) -> httpx.Response:
        offset = (orjson.loads(request.content) if request.content else {}).get("offset") or 0
        # A fresh copy per response, as if read from the socket: the body's bytes count in the peak.
        body = bytes(bytearray(pages[offset // PAGE]))
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    with EndpointsClient(
        "http://127.0.0.1:1", 1, "phx_bench", transport=httpx.MockTransport(serve), max_rows=None
    ) as client:
        result = client.run_endpoint("bench_events", variables={"since": "2026-01-01"}, frame_type=frame_type)
        frame = result.to_frame(frame_type)
    return frame


def _final_bytes(frame: Any) -> int:
    if hasattr(frame, "memory_usage"):  # pandas
        return int(frame.memory_usage(deep=True).sum())
    if hasattr(frame, "estimated_size"):  # polars
        return int(frame.estimated_size())
    return int(frame.nbytes)  # arrow


PATHS: dict[str, Callable[[list[bytes]], Any]] = {
    "orjson.loads": lambda pages: [orjson.loads(body) for body in pages],
    "pandas": lambda pages: _run_endpoint(pages, "pandas"),
    "arrow": lambda pages: _run_endpoint(pages, "arrow"),
    "polars": lambda pages: _run_endpoint(pages, "polars"),
}


def _measure(name: str, pages: list[bytes], out: Any) -> None:
    """In a forked child: time the path twice, then its peak resident memory once, fresh."""
    fn = PATHS[name]
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident set
        before = _status("VmRSS")
        result = fn(pages)
        peak = _status("VmHWM") - before
    except OSError:  # no clear_refs (not Linux): no memory figure
        result, peak = fn(pages), -1
    final = 0 if name == "orjson.loads" else _final_bytes(result)
    rows = sum(len(r["results"]) for r in result) if name == "orjson.loads" else len(result)
    del result
    gc.collect()
    times = []
    for _ in range(2):
        start = time.perf_counter()
        fn(pages)
        times.append(time.perf_counter() - start)
        gc.collect()
    out.send({"time": min(times), "peak": peak, "final": final, "rows": rows})


def measure(name: str, pages: list[bytes]) -> dict[str, Any]:
    ctx = mp.get_context("fork")  # the child shares the pages instead of building them again
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_measure, args=(name, pages, child))
    proc.start()
    got = parent.recv()
    proc.join()
    return got


def run() -> list[BenchRow]:
    pages = [response(PAGE, i * PAGE, seed=i) for i in range(PAGES)]
    got = {name: measure(name, pages) for name in PATHS}
    for name in ("pandas", "arrow", "polars"):
        assert got[name]["rows"] == PAGES * PAGE, (name, got[name]["rows"])
    loads, pandas, arrow, polars = (got[n] for n in ("orjson.loads", "pandas", "arrow", "polars"))
    ratio = arrow["peak"] / arrow["final"]
    return [
        BenchRow(
            "1,000,000 rows in 20 pages -> Arrow table (frame_type='arrow'): time",
            arrow["time"],
            "s",
            pandas["time"],
            "<= 1x baseline (the same pages -> pandas through the client)",
            arrow["time"] <= pandas["time"],
            f"{arrow['time'] / pandas['time']:.2f}x pandas; {arrow['time'] / loads['time']:.2f}x "
            f"orjson.loads of the 20 pages ({loads['time']:.2f} s); best of 2; data version hashed in "
            "every client path",
        ),
        BenchRow(
            "same -> Arrow table: peak memory",
            arrow["peak"] / MB,
            "MB",
            arrow["final"] / MB,
            "<= 1.5x baseline (the final table's nbytes)",
            ratio <= 1.5,
            f"{ratio:.2f}x; peak resident set added while paging (VmHWM), each response's bytes "
            "included; later pages read in slices of ~1 MB of rows",
        ),
        BenchRow(
            "same -> Polars frame (frame_type='polars')",
            polars["time"],
            "s",
            pandas["time"],
            "reference",
            None,
            f"{polars['time'] / pandas['time']:.2f}x pandas; peak {polars['peak'] / MB:.0f} MB, "
            f"{polars['peak'] / polars['final']:.2f}x its estimated_size ({polars['final'] / MB:.0f} MB)",
        ),
        BenchRow(
            "same -> pandas DataFrame (the default path)",
            pandas["time"],
            "s",
            loads["time"],
            "reference (orjson.loads of the 20 pages)",
            None,
            f"{pandas['time'] / loads['time']:.2f}x orjson.loads; peak {pandas['peak'] / MB:.0f} MB, "
            f"{pandas['peak'] / pandas['final']:.2f}x its memory_usage(deep=True) "
            f"({pandas['final'] / MB:.0f} MB)",
        ),
        BenchRow(
            "orjson.loads of the same 20 pages (every row as Python objects)",
            loads["time"],
            "s",
            None,
            "reference",
            None,
            f"peak {loads['peak'] / MB:.0f} MB",
        ),
    ]
