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
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, cast

import numpy as np
import pandas as pd

from endpoints_dagster.frames.iso_times import _assemble, _iso, _pandas_stamps
from endpoints_dagster.frames.types import (
    _BIG_INTS,
    _CONTAINERS,
    _DATES,
    _DATETIMES,
    _DECIMALS,
    _FLOATS,
    _INTS,
    _JSONS,
    _STRINGS,
    ClickHouseType,
    _dtype,
    match_types,
    pandas_dtype_for,
    parse_clickhouse_type,
)

__all__ = ["ClickHouseType", "concat_frames", "pandas_dtype_for", "parse_clickhouse_type", "to_dataframe"]

logger = logging.getLogger(__name__)

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
    return pd.arrays.BooleanArray(
        inferred.astype(bool), np.zeros(len(inferred), bool) if mask is None else mask
    )


def _strings(col: Sequence[Any], ct: ClickHouseType, dtype: Any) -> Any:
    return pd.array(_objects(col), dtype=dtype)


def _big_ints(col: Sequence[Any], ct: ClickHouseType, dtype: Any) -> Any:
    if any(type(v) is float for v in col):  # orjson reads integers past 64 bits as floats
        logger.warning("%s values arrived as JSON floats: digits past ~16 may be lost.", ct.raw)
    return _objects([None if v is None else int(v) for v in col])


def _decimals(col: Sequence[Any], ct: ClickHouseType, dtype: Any) -> Any:
    # repr() of a float is its shortest round-trip text: 0.1 -> Decimal('0.1'), not 0.1000000000000000055...
    try:
        return _objects(
            [None if v is None else Decimal(v if isinstance(v, (str, int)) else repr(v)) for v in col]
        )
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
        (set(_FLOATS), _floats),
        ({"Bool"}, _bools),
        (_STRINGS, _strings),
        (_BIG_INTS, _big_ints),
        (_DECIMALS, _decimals),
        (_DATES | _DATETIMES, _timestamps),
        (_JSONS, _json_values),
        (_CONTAINERS, _containers),
    ]
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
            name,
            ct.raw,
            type(exc).__name__,
            str(exc).splitlines()[0] if str(exc) else "",
        )
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


def _column_types(
    columns: Sequence[str], types: Sequence[Sequence[str]] | None
) -> list[ClickHouseType | None]:
    if not types:
        return [None] * len(columns)
    pairs = [(p[0], p[1]) if isinstance(p, (list, tuple)) and len(p) >= 2 else (None, p) for p in types]
    parsed = [None if t is None else parse_clickhouse_type(str(t)) for _, t in pairs]
    if len(pairs) != len(columns):
        logger.warning(
            "The result has %d columns but %d types; matching types by name.", len(columns), len(pairs)
        )
    names = [None if n is None else str(n) for n, _ in pairs]
    return [None if i is None else parsed[i] for i in match_types(columns, names)]


def to_dataframe(
    columns: Sequence[str],
    types: Sequence[Sequence[str]] | None,
    rows: Sequence[Sequence[Any] | Mapping[str, Any]] | None,
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
    rows = _check_rows(columns, rows if rows is not None else [])
    data = list(zip(*rows)) if rows else [()] * len(columns)
    names = _unique_names(columns)
    arrays = {
        name: _column(col, ct, name, timezone)
        for name, col, ct in zip(names, data, _column_types(columns, types))
    }
    return pd.DataFrame(arrays, index=pd.RangeIndex(len(rows)), copy=False)


def _check_rows(
    columns: list[str], rows: Sequence[Sequence[Any] | Mapping[str, Any]]
) -> Sequence[Sequence[Any]]:
    """The rows as lists in ``columns`` order; ``ValueError`` when one has another length."""
    if rows and isinstance(rows[0], dict):  # tolerate ClickHouse's JSONEachRow-style objects
        rows = [[r.get(c) for c in columns] if isinstance(r, Mapping) else r for r in rows]
    try:
        lengths = set(map(len, rows))
    except TypeError:
        bad = next(r for r in rows if not hasattr(r, "__len__"))
        raise ValueError(
            f"Each row of the run result must be a list of values, got {type(bad).__name__}."
        ) from None
    if any(n != len(columns) for n in lengths):
        index = next(i for i, r in enumerate(rows) if len(r) != len(columns))
        raise ValueError(
            f"Row {index} of the run result has {len(rows[index])} values but there are {len(columns)} "
            f"columns ({', '.join(columns[:10])}{', ...' if len(columns) > 10 else ''}); the response is malformed."
        )
    return cast(Sequence[Sequence[Any]], rows)


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
            raise ValueError(
                f"Page {i} has columns {list(frame.columns)} but page 0 has {first}; cannot concatenate."
            )
    nonempty = [f for f in frames if len(f)]
    if len(nonempty) <= 1:
        return (nonempty or frames)[0].reset_index(drop=True)
    return pd.concat(nonempty, ignore_index=True, copy=False)
