"""Run results -> typed pandas DataFrames, from the ClickHouse type names in ``types``.

A run result carries ``columns``, ``types`` (``[[name, "ClickHouseType"], ...]``) and ``results``
(rows of JSON values). :func:`to_dataframe` turns them into a DataFrame whose dtypes follow the
ClickHouse types; nothing here imports Dagster.

Mapping (``Nullable(T)`` always gives pandas' masked/nullable dtype so NULL stays NULL):

=============================================  ==========================  =====================
ClickHouse                                     not nullable                ``Nullable(...)``
=============================================  ==========================  =====================
Int8..Int64, UInt8..UInt64, Interval*          ``int8`` .. ``uint64``      ``Int8`` .. ``UInt64``
Int128/256, UInt128/256                        object of Python ``int``    same, ``None`` = NULL
Float32, Float64                               ``float32``/``float64``     ``Float32``/``Float64``
Decimal(P, S), Decimal32/64/128/256            object of ``Decimal``       same, ``None`` = NULL
String, FixedString, UUID, Enum*, IPv4, IPv6   ``string``                  ``string``
Bool                                           ``bool``                    ``boolean``
Date, Date32                                   ``datetime64[ns]``          same, ``NaT`` = NULL
DateTime, DateTime64 (with or without tz)      ``datetime64[ns, tz]``      same, ``NaT`` = NULL
Array, Tuple, Map, Nested                      object of list/tuple/dict   same
JSON, Object('json'), Dynamic, Variant          object of parsed values     same
anything else                                  object of the raw values    same
=============================================  ==========================  =====================

``LowCardinality(T)`` is ``T``. Timestamps without a zone in the type use ``timezone`` (UTC by
default); values written with ``Z``/``+00:00``/any offset are exact instants, values without an
offset (ClickHouse's ``2026-01-01 00:00:00``) are wall time in the column's zone. A value that does
not fit its column's type turns that column into object (raw values) with a logged warning.
Dates or timestamps outside ``datetime64[ns]``'s range (1677-2262) keep microsecond precision.
Nested values (inside arrays, tuples, maps) are kept as JSON gave them.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ClickHouseType", "concat_frames", "pandas_dtype_for", "parse_clickhouse_type", "to_dataframe"]

logger = logging.getLogger(__name__)

_INTS = {f"{p}Int{b}": f"{p.lower()}int{b}" for p in ("", "U") for b in (8, 16, 32, 64)}
_BIG_INTS = {f"{p}Int{b}" for p in ("", "U") for b in (128, 256)}
_FLOATS = {"Float32": "float32", "Float64": "float64", "BFloat16": "float32"}
# numpy dtype -> pandas masked dtype: "uint64" -> "UInt64", "float32" -> "Float32"
_MASKED = {n: n[0].upper() + n[1:] if n[0] != "u" else "UInt" + n[4:] for n in [*_INTS.values(), "float32", "float64"]}
_STRINGS = {"String", "FixedString", "UUID", "Enum8", "Enum16", "Enum", "IPv4", "IPv6"}
_DECIMALS = {"Decimal", "Decimal32", "Decimal64", "Decimal128", "Decimal256"}
_DATES = {"Date", "Date32"}
_DATETIMES = {"DateTime", "DateTime32", "DateTime64"}
_JSONS = {"JSON", "Object"}
_CONTAINERS = {"Array", "Tuple", "Map", "Nested"}


@dataclass(frozen=True)
class ClickHouseType:
    """A parsed ClickHouse type name, with ``Nullable``/``LowCardinality`` unwrapped into flags.

    ``args`` holds nested types (``Array``, ``Tuple``, ``Map``) as ``ClickHouseType`` and literals
    (precision, scale, timezone, enum items) as ``int``/``str``. ``names`` holds the element names
    of a named ``Tuple``/``Nested`` (``None`` where unnamed). ``tz`` is the timezone argument of a
    ``DateTime``/``DateTime64``, if any.
    """

    name: str
    args: tuple[Any, ...] = ()
    nullable: bool = False
    low_cardinality: bool = False
    tz: str | None = None
    names: tuple[str | None, ...] = ()
    raw: str = ""


_ARG_NAMED = re.compile(r"^(`[^`]+`|[A-Za-z_][\w.]*)\s+([A-Za-z_].*)$", re.S)
_TYPE = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*$", re.S)


def _split_args(inner: str) -> list[str]:
    """Split ``a, b(c, d), 'e,f'`` at top-level commas (quotes, backticks and parens respected)."""
    parts, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(inner):
        ch = inner[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'`\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
        i += 1
    parts.append(inner[start:].strip())
    return [p for p in parts if p]


def _parse_arg(arg: str) -> tuple[str | None, Any]:
    if arg[:1] == "'":  # a string literal ('UTC') or an enum item ('a' = 1): keep the label
        end = arg.find("'", 1)
        while end > 0 and arg[end - 1] == "\\":
            end = arg.find("'", end + 1)
        return None, arg[1:end] if end > 0 else arg
    if re.fullmatch(r"-?\d+", arg):
        return None, int(arg)
    named = _ARG_NAMED.match(arg)
    if named and not _TYPE.match(arg):  # "a String" is a named element, "Array(String)" is not
        return named.group(1).strip("`"), parse_clickhouse_type(named.group(2))
    return None, parse_clickhouse_type(arg)


@lru_cache(maxsize=1024)
def parse_clickhouse_type(t: str) -> ClickHouseType:
    """Parse a ClickHouse type name into a :class:`ClickHouseType`; never raises.

    >>> parse_clickhouse_type("LowCardinality(Nullable(String))")
    ClickHouseType(name='String', args=(), nullable=True, low_cardinality=True, tz=None, names=(), raw='LowCardinality(Nullable(String))')
    >>> parse_clickhouse_type("DateTime64(6, 'Europe/Berlin')").tz
    'Europe/Berlin'

    Anything unparseable comes back as a type whose ``name`` is the raw text (mapped to object).
    """
    raw = str(t)
    match = _TYPE.match(raw)
    if not match:
        return ClickHouseType(name=raw.strip(), raw=raw)
    name, inner = match.group(1), match.group(2)
    try:
        parsed = [_parse_arg(a) for a in _split_args(inner)] if inner is not None else []
    except RecursionError:  # absurdly deep nesting: treat as unknown rather than fail
        return ClickHouseType(name=raw.strip(), raw=raw)
    args = tuple(a for _, a in parsed)
    if name in ("Nullable", "LowCardinality") and len(args) == 1 and isinstance(args[0], ClickHouseType):
        wrapped = args[0]
        return ClickHouseType(
            name=wrapped.name, args=wrapped.args, tz=wrapped.tz, names=wrapped.names, raw=raw,
            nullable=wrapped.nullable or name == "Nullable",
            low_cardinality=wrapped.low_cardinality or name == "LowCardinality",
        )  # fmt: skip
    if name == "SimpleAggregateFunction" and len(args) == 2 and isinstance(args[1], ClickHouseType):
        return ClickHouseType(**{**args[1].__dict__, "raw": raw})  # stored as its value type
    tz = None
    if name in _DATETIMES:
        tz = next((a for a in args if isinstance(a, str)), None)
    names = tuple(n for n, _ in parsed) if any(n for n, _ in parsed) else ()
    return ClickHouseType(name=name, args=args, tz=tz, names=names, raw=raw)


def _tz_dtype(tz: str | None, default: str) -> pd.DatetimeTZDtype:
    try:
        return pd.DatetimeTZDtype("ns", tz or default)
    except Exception:  # an unknown zone name from the server: keep the data, in UTC
        logger.warning("Unknown timezone %r in a column type; using UTC.", tz or default)
        return pd.DatetimeTZDtype("ns", "UTC")


def _dtype(ct: ClickHouseType, timezone: str = "UTC") -> Any:
    name, nullable = ct.name, ct.nullable
    if name in _INTS or name.startswith("Interval"):
        np_name = _INTS.get(name, "int64")  # Interval* values are Int64 counts of their unit
        return pd.api.types.pandas_dtype(_MASKED[np_name]) if nullable else np.dtype(np_name)
    if name in _FLOATS:
        np_name = _FLOATS[name]
        return pd.api.types.pandas_dtype(_MASKED[np_name]) if nullable else np.dtype(np_name)
    if name in _STRINGS:
        return pd.StringDtype()
    if name == "Bool":
        return pd.BooleanDtype() if nullable else np.dtype(bool)
    if name in _DATES:
        return np.dtype("datetime64[ns]")
    if name in _DATETIMES:
        return _tz_dtype(ct.tz, timezone)
    return np.dtype(object)


def pandas_dtype_for(clickhouse_type: str, timezone: str = "UTC") -> Any:
    """The pandas dtype :func:`to_dataframe` gives a column of this ClickHouse type.

    >>> pandas_dtype_for("Nullable(Int32)")
    Int32Dtype()
    >>> str(pandas_dtype_for("DateTime64(6, 'Europe/Berlin')"))
    'datetime64[ns, Europe/Berlin]'
    """
    return _dtype(parse_clickhouse_type(clickhouse_type), timezone)


# --- column converters: each takes the column's values (a tuple) and returns an array -----------


class _Misfit(ValueError):
    """A value does not fit the column's declared type."""


def _objects(col: Sequence[Any]) -> np.ndarray:
    # fromiter never descends into lists, unlike np.array(..., dtype=object)
    return np.fromiter(col, dtype=object, count=len(col))


def _masked(col: Sequence[Any], fill: Any) -> tuple[np.ndarray, np.ndarray]:
    obj = _objects(col)
    mask = pd.isna(obj)
    obj[mask] = fill
    return obj, mask


def _ints(col: Sequence[Any], ct: ClickHouseType, dtype: Any) -> Any:
    np_dtype = np.dtype(dtype.numpy_dtype if ct.nullable else dtype)
    mask = None
    if ct.nullable:
        obj, mask = _masked(col, 0)
        col = obj.tolist()
    inferred = np.array(col)
    if inferred.dtype.kind == "O" and mask is None and None in col:
        obj, mask = _masked(col, 0)
        col = obj.tolist()
        inferred = np.array(col)
    if inferred.dtype.kind in "iub":
        info = np.iinfo(np_dtype)
        if len(inferred) and (inferred.min() < info.min or inferred.max() > info.max):
            raise _Misfit(f"values outside {np_dtype}'s range")
        values = inferred.astype(np_dtype)
    elif inferred.dtype.kind == "f" and any(type(v) is float for v in col):
        raise _Misfit("fractional values in an integer column")
    else:  # quoted 64-bit ints, or ints past int64 (inferred as float/object): numpy parses them
        values = np.array(col, dtype=np_dtype)
    if not ct.nullable:
        if mask is None or not mask.any():
            return values
        logger.warning("NULLs in non-Nullable column of type %s; using a nullable dtype.", ct.raw)
    return pd.arrays.IntegerArray(values, np.zeros(len(values), bool) if mask is None else mask)


def _floats(col: Sequence[Any], ct: ClickHouseType, dtype: Any) -> Any:
    if not ct.nullable:
        return np.array(col, dtype=dtype)  # JSON null (ClickHouse's nan/inf) becomes NaN
    obj, mask = _masked(col, 0.0)
    return pd.arrays.FloatingArray(np.array(obj.tolist(), dtype=dtype.numpy_dtype), mask)


def _bools(col: Sequence[Any], ct: ClickHouseType, dtype: Any) -> Any:
    inferred = np.array(col)
    kind, mask = inferred.dtype.kind, None
    if kind == "O":
        obj, mask = _masked(col, False)
        inferred = np.array(obj.tolist())
        kind = "b" if len(inferred) == 0 else inferred.dtype.kind
    if kind in "iu" and np.isin(inferred, (0, 1)).all():
        inferred = inferred.astype(bool)
    elif kind == "U" and np.isin(inferred, ("true", "false")).all():
        inferred = inferred == "true"
    elif kind != "b":
        raise _Misfit("values that are not booleans")
    if not ct.nullable and (mask is None or not mask.any()):
        return inferred.astype(bool)
    return pd.arrays.BooleanArray(inferred.astype(bool), np.zeros(len(inferred), bool) if mask is None else mask)


def _strings(col: Sequence[Any], ct: ClickHouseType, dtype: Any) -> Any:
    return pd.array(_objects(col), dtype=dtype)


def _big_ints(col: Sequence[Any], ct: ClickHouseType, dtype: Any) -> Any:
    if any(type(v) is float for v in col):  # orjson reads integers past 64 bits as floats
        logger.warning("%s values arrived as JSON floats: digits past ~16 may be lost.", ct.raw)
    return _objects([None if v is None else int(v) for v in col])


def _decimals(col: Sequence[Any], ct: ClickHouseType, dtype: Any) -> Any:
    # repr() of a float is its shortest round-trip text: 0.1 -> Decimal('0.1'), not 0.1000000000000000055...
    try:
        return _objects([None if v is None else Decimal(v if isinstance(v, (str, int)) else repr(v)) for v in col])
    except InvalidOperation as exc:
        raise _Misfit("values that are not decimals") from exc


def _json_values(col: Sequence[Any], ct: ClickHouseType, dtype: Any) -> Any:
    def parse(v: Any) -> Any:
        if isinstance(v, str) and v[:1] in ("{", "["):
            try:
                return json.loads(v)
            except ValueError:
                return v
        return v

    return _objects([parse(v) for v in col])


def _containers(col: Sequence[Any], ct: ClickHouseType, dtype: Any) -> Any:
    if ct.name == "Tuple":  # JSON has no tuples; ClickHouse tuples are fixed-size and hashable
        return _objects([tuple(v) if isinstance(v, list) else v for v in col])
    return _objects(col)


def _raw(col: Sequence[Any], ct: ClickHouseType, dtype: Any) -> Any:
    return _objects(col)


# --- dates and timestamps ----------------------------------------------------------------------
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
        return (days * _NS_DAY + nod).view("M8[ns]")
    return (days * 86_400_000_000 + nod // 1000).view("M8[us]")  # past 2262: keep microseconds


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


def _timestamps(col: Sequence[Any], ct: ClickHouseType, dtype: Any) -> Any:
    mask = pd.isna(_objects(col)) if None in col else None
    values = _objects(col)[~mask].tolist() if mask is not None else col
    # A fixed width skips numpy's length-discovery pass; it is one more than the longest valid
    # form (10 for dates, 35 for timestamps), so a longer, truncated value still fails the layout.
    arr = np.array(values, dtype="U11" if ct.name in _DATES else "U36")
    fields = _iso(arr, date_only=ct.name in _DATES) if len(arr) else (np.zeros(0, np.int64),) * 2 + (True,)
    stamps, aware = (_assemble(*fields[:2]), fields[2]) if fields else _pandas_stamps(values)
    if mask is not None:
        full = np.full(len(col), np.datetime64("NaT"), dtype=stamps.dtype)
        full[~mask] = stamps
        stamps = full
    if ct.name in _DATES:
        return stamps
    result = pd.array(stamps)
    if aware:
        return result.tz_localize("UTC").tz_convert(dtype.tz)
    # wall times (ClickHouse's own format): for a repeated hour at a DST change, take standard time
    return result.tz_localize(dtype.tz, ambiguous=np.zeros(len(result), bool), nonexistent="shift_forward")


# --- assembling the frame ----------------------------------------------------------------------

_Converter = Callable[[Sequence[Any], ClickHouseType, Any], Any]


def _converter(ct: ClickHouseType) -> _Converter:
    name = ct.name
    if name in _INTS or name.startswith("Interval"):
        return _ints
    table: list[tuple[set[str], _Converter]] = [
        (set(_FLOATS), _floats), ({"Bool"}, _bools), (_STRINGS, _strings), (_BIG_INTS, _big_ints),
        (_DECIMALS, _decimals), (_DATES | _DATETIMES, _timestamps), (_JSONS, _json_values),
        (_CONTAINERS, _containers),
    ]  # fmt: skip
    return next((conv for names, conv in table if name in names), _raw)


def _column(col: Sequence[Any], ct: ClickHouseType | None, name: str, timezone: str) -> Any:
    if ct is None:  # no type given: let pandas infer int/float/bool, else keep objects
        return pd.Series(_objects(col), dtype=object).infer_objects().to_numpy()
    dtype = _dtype(ct, timezone)
    if not col:
        return np.empty(0, dtype) if isinstance(dtype, np.dtype) else pd.array([], dtype=dtype)
    try:
        return _converter(ct)(col, ct, dtype)
    except Exception as exc:  # a value that does not fit must not lose the whole result
        logger.warning(
            "Column %r is typed %s but holds values that do not fit (%s: %s); keeping the raw values as object.",
            name, ct.raw, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "",
        )  # fmt: skip
        return _objects(col)


def _unique_names(columns: Sequence[str]) -> list[str]:
    """``x, x, x`` -> ``x, x_1, x_2``, skipping suffixes that are already column names."""
    taken, seen, out = set(columns), set(), []
    for name in columns:
        if name in seen:
            k = 1
            while f"{name}_{k}" in taken:
                k += 1
            name = f"{name}_{k}"
            taken.add(name)
        seen.add(name)
        out.append(name)
    return out


def _column_types(columns: Sequence[str], types: Sequence[Sequence[str]] | None) -> list[ClickHouseType | None]:
    if not types:
        return [None] * len(columns)
    pairs = [(p[0], p[1]) if isinstance(p, (list, tuple)) and len(p) >= 2 else (None, p) for p in types]
    parsed = [None if t is None else parse_clickhouse_type(str(t)) for _, t in pairs]
    if len(pairs) == len(columns):
        # by position: PostHog names `types` after the ClickHouse-side expressions, which can
        # differ from the HogQL aliases in `columns`
        return parsed
    logger.warning("The result has %d columns but %d types; matching types by name.", len(columns), len(pairs))
    by_name: dict[str, ClickHouseType | None] = {}
    for (n, _), ct in zip(pairs, parsed):
        by_name.setdefault(str(n), ct)
    return [by_name.get(c) for c in columns]


def to_dataframe(
    columns: Sequence[str],
    types: Sequence[Sequence[str]] | None,
    rows: Sequence[Sequence[Any]] | None,
    *,
    timezone: str = "UTC",
) -> pd.DataFrame:
    """Build a typed DataFrame from a run result's ``columns``, ``types`` and ``results``.

    Each column is converted once, from the transposed rows, to the dtype of its ClickHouse type
    (see the module docstring). ``timezone`` is used for ``DateTime`` types that name no zone
    (pass the run result's ``timezone``). Never raises for a type or a value; raises
    ``ValueError`` when a row's length differs from the number of columns.

    >>> df = to_dataframe(["day", "n"], [["day", "Date"], ["n", "Nullable(UInt64)"]],
    ...                   [["2026-01-01", 42], ["2026-01-02", None]])
    >>> df.dtypes.astype(str).tolist()
    ['datetime64[ns]', 'UInt64']
    """
    columns = [str(c) for c in (columns or [])]
    rows = rows if rows is not None else []
    if rows and isinstance(rows[0], dict):  # tolerate ClickHouse's JSONEachRow-style objects
        rows = [[r.get(c) for c in columns] for r in rows]
    try:
        lengths = set(map(len, rows))
    except TypeError:
        bad = next(r for r in rows if not hasattr(r, "__len__"))
        raise ValueError(f"Each row of the run result must be a list of values, got {type(bad).__name__}.") from None
    if any(n != len(columns) for n in lengths):
        index = next(i for i, r in enumerate(rows) if len(r) != len(columns))
        raise ValueError(
            f"Row {index} of the run result has {len(rows[index])} values but there are {len(columns)} "
            f"columns ({', '.join(columns[:10])}{', ...' if len(columns) > 10 else ''}); the response is malformed."
        )
    data = list(zip(*rows)) if rows else [()] * len(columns)
    names = _unique_names(columns)
    arrays = {
        name: _column(col, ct, name, timezone)
        for name, col, ct in zip(names, data, _column_types(columns, types))
    }  # fmt: skip
    return pd.DataFrame(arrays, index=pd.RangeIndex(len(rows)), copy=False)


def concat_frames(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate page frames (same columns, as :func:`to_dataframe` made them) keeping dtypes.

    Empty pages are skipped so they cannot widen a dtype; a page whose column fell back to object
    makes that column object. For the least memory, convert each page as it arrives and drop its
    raw rows: the result then needs about the pages' memory once more, at peak.
    """
    frames = list(frames)
    if not frames:
        return pd.DataFrame()
    first = list(frames[0].columns)
    for i, frame in enumerate(frames[1:], start=1):
        if list(frame.columns) != first:
            raise ValueError(f"Page {i} has columns {list(frame.columns)} but page 0 has {first}; cannot concatenate.")
    nonempty = [f for f in frames if len(f)]
    if len(nonempty) <= 1:
        return (nonempty or frames)[0].reset_index(drop=True)
    return pd.concat(nonempty, ignore_index=True, copy=False)
