"""Run results -> typed Arrow tables (and Polars frames), with the same type mapping as pandas.

Needs the ``arrow`` extra (``polars`` for :func:`arrow_to_polars`); asking without it raises
:class:`~endpoints_dagster.frames.extras.MissingExtraError` naming the extra. Nothing here imports
Dagster.

Mapping (every Arrow field is nullable; ``Nullable(T)`` NULLs are Arrow nulls):

=============================================  =====================================  ==================
ClickHouse                                     Arrow                                  Polars
=============================================  =====================================  ==================
Int8..Int64, UInt8..UInt64, Interval*          ``int8`` .. ``uint64`` (Interval int64)  ``Int8``..``UInt64``
Int128/256, UInt128/256                        ``string`` (the exact digits)          ``String``
Float32, Float64                               ``float``/``double`` (null -> NaN       ``Float32``/``64``
                                               unless ``Nullable``, as in pandas)
Decimal(P, S), Decimal32/64/128/256(S)         ``decimal128(P, S)`` (``decimal256``     ``Decimal(P, S)``
                                               past 38 digits)                        (string past 38)
String, FixedString, UUID, Enum*, IPv4, IPv6   ``string``                             ``String``
Bool                                           ``bool``                               ``Boolean``
Date, Date32                                   ``date32``                             ``Date``
DateTime, DateTime64 (with or without tz)      ``timestamp[ns, tz]``                  ``Datetime(ns, tz)``
Array(T)                                       ``list<T>``                            ``List(T)``
Map(K, V)                                      ``map<K, V>``                          ``Map(K, V)``
Tuple(T...)                                    ``struct`` (fields named, or 1, 2, ..)  ``Struct``
JSON, Object, Dynamic, Variant, Nested, other  ``string`` of the JSON text            ``String``
=============================================  =====================================  ==================

Dates and timestamps are parsed exactly as for pandas (the same fast ISO path, the same zone
rules: offsets are instants, wall times are in the column's zone). Inside arrays, maps and tuples,
dates and timestamps stay the text JSON gave (as in pandas). A column whose values do not fit its
type becomes the values' JSON text, with a logged warning, never an exception.

Example::

    table = to_arrow_table(["day", "n"], [["day", "Date"], ["n", "Nullable(UInt64)"]],
                           [["2026-01-01", 42], ["2026-01-02", None]])
    table.schema.types  # [DataType(date32[day]), DataType(uint64)]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import orjson

from endpoints_dagster.frames import pandas as pandas_frames
from endpoints_dagster.frames.extras import require
from endpoints_dagster.frames.types import (
    _BIG_INTS,
    _DATES,
    _DATETIMES,
    _DECIMALS,
    _FLOATS,
    _INTS,
    _STRINGS,
    ClickHouseType,
    _dtype,
)

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    import pyarrow as pa

__all__ = ["arrow_to_polars", "arrow_type_for", "concat_tables", "frame_to_arrow", "to_arrow_table"]

logger = logging.getLogger(__name__)

SLICE = 10_000
# Precision of the fixed-width decimal types, which name only their scale.
_DECIMAL_PRECISION = {"Decimal32": 9, "Decimal64": 18, "Decimal128": 38, "Decimal256": 76}


def _pa(extra: str = "arrow") -> Any:
    return require("pyarrow", extra)


def _pool() -> pa.MemoryPool:
    # Arrow's default pool (mimalloc) keeps freed pages resident for reuse; converting page after
    # page with the system allocator peaked a third lower (bench/bench_arrow.py).
    return _pa().system_memory_pool()


def _decimal_type(ct: ClickHouseType) -> pa.DataType:
    pa = _pa()
    ints = [a for a in ct.args if isinstance(a, int)]
    if ct.name in _DECIMAL_PRECISION:
        precision, scale = _DECIMAL_PRECISION[ct.name], (ints[0] if ints else 0)
    elif len(ints) >= 2:
        precision, scale = ints[0], ints[1]
    else:  # Decimal(P) has scale 0; a bare Decimal is ClickHouse's Decimal(10, 0)
        precision, scale = (ints[0] if ints else 10), 0
    return pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)


def _tuple_type(ct: ClickHouseType, nested: bool) -> pa.DataType:
    pa = _pa()
    elements = [a for a in ct.args if isinstance(a, ClickHouseType)]
    names = ct.names or (None,) * len(elements)
    return pa.struct(
        [
            pa.field(name or str(index + 1), arrow_type_for(element, nested=True))
            for index, (name, element) in enumerate(zip(names, elements, strict=False))
        ]
    )


def arrow_type_for(ct: ClickHouseType, timezone: str = "UTC", *, nested: bool = False) -> pa.DataType:
    """The Arrow type of a column (or, with ``nested``, of an element inside a container).

    >>> str(arrow_type_for(parse_clickhouse_type("Nullable(UInt16)")))  # doctest: +SKIP
    'uint16'
    """
    pa = _pa()
    name = ct.name
    if name in _INTS or name.startswith("Interval"):
        return pa.from_numpy_dtype(np.dtype(_INTS.get(name, "int64")))
    if name in _FLOATS:
        return pa.from_numpy_dtype(np.dtype(_FLOATS[name]))
    if name == "Bool":
        return pa.bool_()
    if name in _DECIMALS:
        return pa.float64() if nested else _decimal_type(ct)  # nested decimals arrive as JSON numbers
    if name in _DATES and not nested:
        return pa.date32()
    if name in _DATETIMES and not nested:
        return pa.timestamp("ns", tz=str(_dtype(ct, timezone).tz))
    elements = [a for a in ct.args if isinstance(a, ClickHouseType)]
    if name == "Array" and len(elements) == 1:
        return pa.list_(arrow_type_for(elements[0], nested=True))
    if name == "Map" and len(elements) == 2:
        return pa.map_(arrow_type_for(elements[0], nested=True), arrow_type_for(elements[1], nested=True))
    if name == "Tuple" and elements:
        return _tuple_type(ct, nested)
    # Strings, big ints as their digits, nested dates and times as JSON gave them, JSON as text.
    return pa.string()


# --- column converters: each takes the column's values and returns an Arrow array --------------


def _json_text(values: Sequence[Any]) -> list[str | None]:
    return [
        None if v is None else v if isinstance(v, str) else orjson.dumps(v, default=str).decode()
        for v in values
    ]


def _digits(values: Sequence[Any]) -> list[str | None]:
    # ClickHouse quotes 128/256-bit integers in JSON; orjson reads unquoted ones past 64 bits as floats.
    return [None if v is None else v if isinstance(v, str) else str(int(v)) for v in values]


def _container_values(values: Sequence[Any], ct: ClickHouseType) -> Sequence[Any]:
    if ct.name == "Map":  # JSON objects -> (key, value) pairs
        return [None if v is None else list(v.items()) if isinstance(v, dict) else v for v in values]
    if ct.name == "Tuple":  # JSON arrays -> Python tuples, which Arrow reads as structs
        return [tuple(v) if isinstance(v, list) else v for v in values]
    return values


def _direct(values: Sequence[Any], ct: ClickHouseType, target: pa.DataType, timezone: str) -> pa.Array:
    """The fast path: Arrow reads the JSON values itself, or takes the pandas path's numpy arrays."""
    pa = _pa()
    name = ct.name
    if name in _FLOATS and not ct.nullable:  # JSON null is ClickHouse's nan/inf: NaN, as in pandas
        return pa.array(np.array(values, dtype=_FLOATS[name]), type=target, memory_pool=_pool())
    if name in _DATES or name in _DATETIMES:
        # The pandas converter's parsing (fast ISO path, zone rules), then Arrow takes its buffer.
        stamps = pandas_frames._timestamps(values, ct, _dtype(ct, timezone))
        array = pa.array(stamps, from_pandas=True, memory_pool=_pool())
        return array.cast(target, memory_pool=_pool())
    if name in _DECIMALS:
        return pa.array(pandas_frames._decimals(values, ct, None), type=target, memory_pool=_pool())
    if name in _BIG_INTS:
        return pa.array(_digits(values), type=target, memory_pool=_pool())
    if pa.types.is_string(target) and name not in _STRINGS:
        return pa.array(_json_text(values), type=target, memory_pool=_pool())
    return pa.array(_container_values(values, ct), type=target, memory_pool=_pool())


def _via_pandas(values: Sequence[Any], ct: ClickHouseType, target: pa.DataType, timezone: str) -> pa.Array:
    """The slower path for values Arrow refuses (quoted ints, 0/1 booleans): pandas' converters."""
    pa = _pa()
    converted = pandas_frames._converter(ct)(values, ct, _dtype(ct, timezone))
    return pa.array(converted, type=target, from_pandas=True, memory_pool=_pool())


def _column(values: Sequence[Any], ct: ClickHouseType | None, name: str, timezone: str) -> pa.Array:
    pa = _pa()
    if ct is None:  # no type given: let Arrow infer, else keep the JSON text
        try:
            return pa.array(values, memory_pool=_pool())
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            return pa.array(_json_text(values), type=pa.string(), memory_pool=_pool())
    target = arrow_type_for(ct, timezone)
    for attempt in (_direct, _via_pandas):
        try:
            return attempt(values, ct, target, timezone)
        except (pa.ArrowException, TypeError, ValueError, OverflowError, ArithmeticError):
            continue
    logger.warning(
        "Column %r is typed %s but holds values that do not fit %s; keeping their JSON text.",
        name,
        ct.raw,
        target,
    )
    return pa.array(_json_text(values), type=pa.string(), memory_pool=_pool())


def to_arrow_table(
    columns: Sequence[str],
    types: Sequence[Sequence[str]] | None,
    rows: Sequence[Sequence[Any]] | None,
    *,
    timezone: str = "UTC",
) -> pa.Table:
    """Build a typed Arrow table from a run result's ``columns``, ``types`` and ``results``.

    Raises ``ValueError`` when a row's length differs from the number of columns (as
    :func:`~endpoints_dagster.frames.pandas.to_dataframe` does); never for a type or a value.
    """
    pa = _pa()
    columns = [str(c) for c in (columns or [])]
    rows = pandas_frames._check_rows(columns, rows if rows is not None else [])
    names = pandas_frames._unique_names(columns)
    column_types = pandas_frames._column_types(columns, types)
    # Slices of SLICE rows: the transposed values and the converters' temporaries then stay small
    # beside the page's JSON rows (the chunks of one table share its schema; no copy).
    tables = []
    for start in range(0, max(len(rows), 1), SLICE):
        part = rows[start : start + SLICE]
        data = list(zip(*part, strict=True)) if part else [()] * len(columns)
        arrays = [
            _column(col, ct, name, timezone) for name, col, ct in zip(names, data, column_types, strict=True)
        ]
        del data
        tables.append(pa.Table.from_arrays(arrays, names=names))
    return concat_tables(tables)


def concat_tables(tables: Sequence[pa.Table]) -> pa.Table:
    """Concatenate page tables without copying; a column whose type differs between pages (one
    page fell back to JSON text) becomes text in every page first."""
    pa = _pa()
    tables = list(tables)
    if len(tables) == 1:
        return tables[0]
    first = tables[0].schema
    if all(t.schema.equals(first) for t in tables[1:]):
        return pa.concat_tables(tables)
    names = first.names
    odd = {
        n for t in tables[1:] for n, f in zip(names, t.schema, strict=True) if f.type != first.field(n).type
    }
    texts = [_text_columns(t, odd) for t in tables]
    return pa.concat_tables(texts)


def _text_columns(table: pa.Table, names: set[str]) -> pa.Table:
    pa = _pa()
    for index, field in enumerate(table.schema):
        if field.name in names and not pa.types.is_string(field.type):
            values = _json_text(table.column(index).to_pylist())
            table = table.set_column(index, field.name, pa.array(values, type=pa.string()))
    return table


def frame_to_arrow(
    frame: pd.DataFrame, columns: Sequence[str], types: Sequence[Sequence[str]] | None, *, timezone: str
) -> pa.Table:
    """A typed DataFrame (as :func:`~endpoints_dagster.frames.pandas.to_dataframe` made it) as the
    Arrow table :func:`to_arrow_table` would have made from its rows, column by column."""
    pa = _pa()
    arrays = []
    for index, ct in enumerate(pandas_frames._column_types([str(c) for c in columns], types)):
        series = frame.iloc[:, index]
        target = arrow_type_for(ct, timezone) if ct is not None else None
        try:
            arrays.append(pa.array(series, type=target, from_pandas=True))
            continue
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            pass
        values = series.astype(object).where(series.notna(), None).tolist()
        if ct is not None and ct.name in _DATES:
            values = [None if v is None else v.date() for v in values]
        elif ct is not None and ct.name in _DATETIMES:
            values = [None if v is None else v.isoformat() for v in values]
        arrays.append(_column(values, ct, str(frame.columns[index]), timezone))
    return pa.Table.from_arrays(arrays, names=[str(c) for c in frame.columns])


def arrow_to_polars(table: pa.Table) -> pl.DataFrame:
    """The table as a Polars frame, without copying its buffers where Polars can share them.

    Polars' decimals hold 38 digits: wider ``decimal256`` columns become their text.
    """
    pa = _pa("polars")
    polars = require("polars", "polars")
    for index, field in enumerate(table.schema):
        if pa.types.is_decimal256(field.type):
            table = table.set_column(index, field.name, table.column(index).cast(pa.string()))
    return cast("pl.DataFrame", polars.from_arrow(table, rechunk=False))
