"""ClickHouse type names, parsed, and the pandas dtype each one becomes (see `frames`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger("endpoints_dagster.frames.pandas")

_INTS = {f"{p}Int{b}": f"{p.lower()}int{b}" for p in ("", "U") for b in (8, 16, 32, 64)}
_BIG_INTS = {f"{p}Int{b}" for p in ("", "U") for b in (128, 256)}
_FLOATS = {"Float32": "float32", "Float64": "float64", "BFloat16": "float32"}
# numpy dtype -> pandas masked dtype: "uint64" -> "UInt64", "float32" -> "Float32"
_MASKED = {
    n: n[0].upper() + n[1:] if n[0] != "u" else "UInt" + n[4:]
    for n in [*_INTS.values(), "float32", "float64"]
}
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

    >>> t = parse_clickhouse_type("LowCardinality(Nullable(String))")
    >>> t.name, t.nullable, t.low_cardinality
    ('String', True, True)
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
            name=wrapped.name,
            args=wrapped.args,
            tz=wrapped.tz,
            names=wrapped.names,
            raw=raw,
            nullable=wrapped.nullable or name == "Nullable",
            low_cardinality=wrapped.low_cardinality or name == "LowCardinality",
        )
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


def match_types(columns: Sequence[str], names: Sequence[str | None]) -> list[int | None]:
    """For each column, the index of its entry in ``types`` (named ``names``), or ``None``.

    A column takes the type of the same name (duplicates in order). With as many types as columns,
    the columns left over take the types left over by position: PostHog names ``types`` after the
    ClickHouse expressions (``toDate(timestamp)``), which differ from the HogQL aliases in
    ``columns`` (``day``), so when no name matches the match is purely positional. With a different
    count, only names match (a positional guess would shift every type after a missing one).

    >>> match_types(["a", "b"], ["b", "a"])
    [1, 0]
    >>> match_types(["day", "n"], ["toDate(timestamp)", "count()"])
    [0, 1]
    """
    unused: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        if name is not None:
            unused.setdefault(name, []).append(index)
    matched: list[int | None] = [unused[c].pop(0) if unused.get(c) else None for c in columns]
    if len(names) == len(columns):
        taken = {i for i in matched if i is not None}
        left = iter(i for i in range(len(names)) if i not in taken)
        matched = [next(left) if i is None else i for i in matched]
    return matched
