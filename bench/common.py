"""Shared pieces of the benchmarks: the row type, timing and memory helpers, machine facts."""

from __future__ import annotations

import gc
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TypeVar

T = TypeVar("T")

PACKAGES = ("dagster", "httpx", "pandas", "numpy", "chdb", "orjson")


@dataclass
class BenchRow:
    """One line of the results table (see the ``bench`` package docstring)."""

    name: str
    value: float
    unit: str
    baseline: float | None
    target: str
    met: bool | None
    notes: str = ""


def timeit_best(fn: Callable[[], Any], repeat: int = 5) -> float:
    """Best wall time of ``repeat`` calls of ``fn``, in seconds.

    The garbage collector stays on (it is part of the real cost) but runs before each call, so
    one call's garbage is not charged to the next.
    """
    return timeit_interleaved(fn, repeat=repeat)[0]


def timeit_interleaved(*fns: Callable[[], Any], repeat: int = 5) -> list[float]:
    """Best wall time of each of ``fns`` in seconds, calling them in turn ``repeat`` times.

    Interleaving makes a value and its baseline see the same machine load, which matters on a
    shared 2-core box.
    """
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            gc.collect()
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def peak_memory(fn: Callable[[], T], *, pause_gc: bool = False) -> tuple[T, int]:
    """Run ``fn`` under ``tracemalloc``; return its result and the peak bytes it had allocated.

    Counts Python objects and numpy/pandas buffers (numpy reports its allocations to
    tracemalloc); memory allocated before the call is not counted. Tracing makes ``fn`` several
    times slower, so never time a call measured here. ``pause_gc`` turns the cyclic collector
    off during the call: it saves time when ``fn`` builds millions of containers, and does not
    change the peak when the data holds no reference cycles.
    """
    gc.collect()
    was_enabled = gc.isenabled()
    if pause_gc:
        gc.disable()
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()
    return result, peak


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def machine() -> dict[str, Any]:
    """Facts about where the numbers were measured."""
    memory = _memory_bytes()
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory": f"{memory / 2**30:.1f} GiB" if memory else "unknown",
        "python": sys.version.split()[0],
        "versions": package_versions(),
    }


def fmt(value: float | None) -> str:
    """A number for the table: 3 significant figures, no exponent for everyday magnitudes."""
    if value is None:
        return "-"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"
