"""Unsigned integer columns made signed where every value fits, so arithmetic behaves.

ClickHouse's ``count()``, ``uniq()`` and ``sum`` of unsigned columns are ``UInt64``; in pandas
``a - b`` of two ``uint64`` columns wraps around to 18 quintillion instead of going negative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["signed_where_fits"]

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
