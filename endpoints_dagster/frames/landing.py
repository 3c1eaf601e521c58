"""Frames as endpoint assets hand them to IO managers: types users and warehouses compute with.

- ClickHouse's ``count()``, ``uniq()`` and ``sum`` of unsigned columns are ``UInt64``; in pandas
  ``a - b`` of two ``uint64`` columns wraps around to 18 quintillion instead of going negative, so
  they become signed where every value fits.
- ``Date`` columns are ``datetime64`` in pandas, which DuckDB and other warehouses store as
  timestamps; they become ``datetime.date`` values, stored as ``DATE``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from endpoints_dagster.frames.types import parse_clickhouse_type

__all__ = ["dates_as_dates", "signed_where_fits"]

_INT64_MAX = np.iinfo(np.int64).max


def _fits(values: pd.Series) -> bool:
    top = values.max(skipna=True)
    return bool(pd.isna(top) or int(top) <= _INT64_MAX)


def signed_where_fits(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each unsigned column as ``int64`` (``Int64`` when nullable) if all values fit.

    A column holding a value above 2**63 - 1 stays unsigned. The frame is changed in place and returned.
    """
    for position, dtype in enumerate(frame.dtypes):
        column = frame.iloc[:, position]
        if isinstance(dtype, pd.api.extensions.ExtensionDtype):
            unsigned = isinstance(dtype, pd.core.arrays.integer.IntegerDtype) and dtype.name.startswith(
                "UInt"
            )
            target: object = "Int64"
        else:
            unsigned = np.issubdtype(dtype, np.unsignedinteger)
            target = np.int64
        if unsigned and _fits(column):
            frame.isetitem(position, column.astype(target))
    return frame


def dates_as_dates(frame: pd.DataFrame, types: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """``frame`` with each ClickHouse ``Date``/``Date32`` column as ``datetime.date`` values (NULL: None).

    ``types`` pairs each column, in order, with its ClickHouse type. Changed in place and returned.
    """
    for position, (_, type_name) in enumerate(types[: frame.shape[1]]):
        if parse_clickhouse_type(type_name).name not in ("Date", "Date32"):
            continue
        column = frame.iloc[:, position]
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            dates = column.dt.date.astype(object)
            frame.isetitem(position, dates.where(column.notna(), None))
    return frame
