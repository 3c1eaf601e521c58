"""Whole-column parsing of ISO dates and timestamps (see `frames`)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

# pd.to_datetime(format="ISO8601") is the slowest step of a frame by far (~0.5 us per value), so
# well-formed ISO strings are parsed with whole-column integer arithmetic on their code points, and
# anything unusual (other layouts, mixed offsets, epoch numbers, garbage) goes to pandas.

_NS_DAY = 86_400 * 10**9
_NS_DAYS = (pd.Timestamp.min.value // _NS_DAY + 2, pd.Timestamp.max.value // _NS_DAY - 2)
_DIM = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _iso(a: np.ndarray, date_only: bool) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """Days since 1970 and UTC nanoseconds of day for ISO strings ``a`` (a numpy ``U`` array).

    Layout: ``YYYY-MM-DD`` (``date_only``), else ``YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}][Z|±HH:MM]``.
    The third value says whether the strings carry offsets. ``None`` means "not this layout".
    """
    n, width = len(a), a.dtype.itemsize // 4
    if a.dtype.kind != "U" or width < 10:
        return None
    codes = a.view(np.uint32).reshape(n, width)  # one UCS-4 code point per character, no copy
    lens = np.char.str_len(a)
    bad = np.zeros(n, bool)

    def char(k: int | np.ndarray, *expected: str) -> np.ndarray:
        c = (codes[:, k] if isinstance(k, int) else codes[np.arange(n), k]).astype(np.int64)
        if expected:
            np.logical_or(bad, ~np.isin(c, [ord(e) for e in expected]), out=bad)
        return c

    def num(*positions: int | np.ndarray) -> np.ndarray:
        value = np.zeros(n, np.int64)
        for k in positions:
            digit = char(k) - 48
            np.logical_or(bad, (digit < 0) | (digit > 9), out=bad)
            value = value * 10 + digit
        return value

    year, month, day = num(0, 1, 2, 3), num(5, 6), num(8, 9)
    char(4, "-"), char(7, "-")
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    bad |= (month < 1) | (month > 12)
    bad |= (day < 1) | (day > _DIM[np.where(bad, 0, month)] + (leap & (month == 2)))
    # days from civil (H. Hinnant): March-based years put the leap day at the end of the year
    y = year - (month <= 2)
    era, yoe = y // 400, y % 400
    doy = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    days = era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468
    if date_only:
        return None if bad.any() or (lens != 10).any() else (days, np.zeros(n, np.int64), False)
    if width < 19 or lens.min() < 19:
        return None
    z = char(lens - 1) == ord("Z")
    sign = char(lens - 6)
    off = (lens >= 25) & ((sign == ord("+")) | (sign == ord("-"))) & (char(lens - 3) == ord(":"))
    if (z | off).any() and not (z | off).all():
        return None  # instants mixed with wall times: let pandas decide
    body = lens - np.where(z, 1, np.where(off, 6, 0))
    char(10, "T", " "), char(13, ":"), char(16, ":")
    hour, minute, sec = num(11, 12), num(14, 15), num(17, 18)
    bad |= (hour > 23) | (minute > 59) | (sec > 59)
    frac = np.zeros(n, np.int64)
    bad |= (body != 19) & ((body < 21) | (body > 29) | (char(min(19, width - 1)) != ord(".")))
    for k in range(min(9, width - 20)):
        present = 20 + k < body
        digit = char(20 + k) - 48
        bad |= present & ((digit < 0) | (digit > 9))
        frac += np.where(present, digit, 0) * 10 ** (8 - k)
    offset = 0
    if off.all():
        minutes = num(lens - 5, lens - 4) * 60 + num(lens - 2, lens - 1)
        offset = np.where(sign == ord("-"), -minutes, minutes) * 60 * 10**9
    elif off.any():
        return None  # Z on some rows and offsets on others: rare, let pandas do it
    if bad.any():
        return None
    return days, ((hour * 60 + minute) * 60 + sec) * 10**9 + frac - offset, bool(z.all() or off.all())


def _assemble(days: np.ndarray, nod: np.ndarray) -> np.ndarray:
    if len(days) == 0 or (days.min() >= _NS_DAYS[0] and days.max() <= _NS_DAYS[1]):
        nanoseconds: np.ndarray = (days * _NS_DAY + nod).view("M8[ns]")
        return nanoseconds
    microseconds: np.ndarray = (days * 86_400_000_000 + nod // 1000).view("M8[us]")  # past 2262
    return microseconds


def _pandas_stamps(values: Sequence[Any]) -> tuple[np.ndarray, bool]:
    """Naive datetime64 values (UTC when the second value is True) for what the fast path refused."""
    arr = np.array(values)
    if arr.dtype.kind in "iuf":  # epoch seconds (ClickHouse's date_time_output_format=unix_timestamp)
        return pd.to_datetime(arr, unit="s").to_numpy(), True
    with warnings.catch_warnings():  # pandas 2 warns, then returns objects, for mixed offsets
        warnings.simplefilter("ignore", FutureWarning)
        try:
            idx = pd.to_datetime(values, format="ISO8601")
        except ValueError as exc:  # naive mixed with aware; out of range goes on up
            if isinstance(exc, pd.errors.OutOfBoundsDatetime):
                raise
            idx = None
    if not isinstance(idx, pd.DatetimeIndex):  # mixed offsets: exact instants through UTC
        idx = pd.DatetimeIndex(pd.to_datetime(values, format="ISO8601", utc=True))
    if idx.tz is None:
        return idx.to_numpy(), False
    return idx.tz_convert("UTC").tz_localize(None).to_numpy(), True
