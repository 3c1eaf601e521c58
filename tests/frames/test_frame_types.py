"""One ClickHouse type matrix, three frame kinds: pandas, Polars and Arrow hold the same values.

Each case is a column of JSON values as PostHog sends them; every frame kind must give the type
named in the case and the same values (read back as Python objects), NULLs as ``None``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from endpoints_dagster.client.models import RunResult

pa = pytest.importorskip("pyarrow")
pl = pytest.importorskip("polars")

BERLIN = ZoneInfo("Europe/Berlin")
NAN = "NaN"  # NaN != NaN, so values are compared with this marker in its place


@dataclass(frozen=True)
class Case:
    clickhouse: str
    sent: list[Any]
    values: list[Any]  # as Arrow and Polars give them back
    pandas: str
    arrow: str
    polars: str
    pandas_values: list[Any] | None = None  # where pandas keeps another Python form
    result_timezone: str | None = None
    id: str = field(default="", compare=False)


CASES = [
    Case("UInt8", [0, 255], [0, 255], "uint8", "uint8", "UInt8"),
    Case("UInt64", [18446744073709551615, 1], [18446744073709551615, 1], "uint64", "uint64", "UInt64"),
    Case("Int64", ["-9223372036854775808", 5], [-9223372036854775808, 5], "int64", "int64", "Int64"),
    Case("Nullable(Int32)", [None, -7], [None, -7], "Int32", "int32", "Int32"),
    Case("Nullable(UInt16)", [65535, None], [65535, None], "UInt16", "uint16", "UInt16"),
    Case("IntervalDay", [3, 4], [3, 4], "int64", "int64", "Int64"),
    Case("Float64", [1.5, None], [1.5, NAN], "float64", "double", "Float64"),
    Case("Nullable(Float32)", [2.5, None], [2.5, None], "Float32", "float", "Float32"),
    Case(
        "Decimal(10, 2)",
        ["1.25", 3.5],
        [Decimal("1.25"), Decimal("3.50")],
        "object",
        "decimal128(10, 2)",
        "Decimal(precision=10, scale=2)",
        pandas_values=[Decimal("1.25"), Decimal("3.5")],
    ),
    Case(
        "Nullable(Decimal64(3))",
        [None, "2.5"],
        [None, Decimal("2.500")],
        "object",
        "decimal128(18, 3)",
        "Decimal(precision=18, scale=3)",
        pandas_values=[None, Decimal("2.5")],
    ),
    Case("String", ["a", "ü"], ["a", "ü"], "string", "string", "String"),
    Case("Nullable(String)", [None, "b"], [None, "b"], "string", "string", "String"),
    Case("LowCardinality(Nullable(String))", ["x", None], ["x", None], "string", "string", "String"),
    Case(
        "UUID",
        ["0190f7c4-0000-7000-8000-000000000001"] * 2,
        ["0190f7c4-0000-7000-8000-000000000001"] * 2,
        "string",
        "string",
        "String",
    ),
    Case("Enum8('a' = 1, 'b' = 2)", ["a", "b"], ["a", "b"], "string", "string", "String"),
    Case("Bool", [True, False], [True, False], "bool", "bool", "Boolean"),
    Case("Nullable(Bool)", [None, True], [None, True], "boolean", "bool", "Boolean"),
    Case(
        "Date",
        ["2026-01-02", "1970-01-01"],
        [date(2026, 1, 2), date(1970, 1, 1)],
        "datetime64[ns]",
        "date32[day]",
        "Date",
    ),
    Case(
        "Nullable(Date32)",
        [None, "2026-12-31"],
        [None, date(2026, 12, 31)],
        "datetime64[ns]",
        "date32[day]",
        "Date",
    ),
    Case(
        "DateTime('Europe/Berlin')",
        ["2026-01-02 03:04:05", "2026-07-02 03:04:05"],  # wall times in the column's zone
        [datetime(2026, 1, 2, 3, 4, 5, tzinfo=BERLIN), datetime(2026, 7, 2, 3, 4, 5, tzinfo=BERLIN)],
        "datetime64[ns, Europe/Berlin]",
        "timestamp[ns, tz=Europe/Berlin]",
        "Datetime(time_unit='ns', time_zone='Europe/Berlin')",
    ),
    Case(
        "DateTime64(3, 'UTC')",
        ["2026-01-02T03:04:05.123Z", None],
        [datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=timezone.utc), None],
        "datetime64[ns, UTC]",
        "timestamp[ns, tz=UTC]",
        "Datetime(time_unit='ns', time_zone='UTC')",
    ),
    Case(
        "DateTime",  # no zone in the type: the result's timezone
        ["2026-01-02 00:00:00", "2026-07-01 12:00:00"],
        [
            datetime(2026, 1, 2, tzinfo=ZoneInfo("America/New_York")),
            datetime(2026, 7, 1, 16, tzinfo=timezone.utc),  # EDT: UTC-4
        ],
        "datetime64[ns, America/New_York]",
        "timestamp[ns, tz=America/New_York]",
        "Datetime(time_unit='ns', time_zone='America/New_York')",
        result_timezone="America/New_York",
    ),
    Case("Array(UInt8)", [[1, 2], []], [[1, 2], []], "object", "list<item: uint8>", "List(UInt8)"),
    Case(
        "Array(Nullable(String))",
        [["a", None], None],
        [["a", None], None],
        "object",
        "list<item: string>",
        "List(String)",
    ),
    Case(
        "Map(String, UInt64)",
        [{"k": 1, "l": 2}, {}],
        [{"k": 1, "l": 2}, {}],
        "object",
        "map<string, uint64>",
        "Map(String, UInt64)",
    ),
    Case(
        "Tuple(a String, b UInt8)",
        [["t", 3], ["u", 4]],
        [{"a": "t", "b": 3}, {"a": "u", "b": 4}],
        "object",
        "struct<a: string, b: uint8>",
        "Struct({'a': String, 'b': UInt8})",
        pandas_values=[("t", 3), ("u", 4)],
    ),
    Case(
        "Int128",  # Arrow has no 128-bit integer: the exact digits, as ClickHouse quotes them
        ["170141183460469231731687303715884105727", "-1"],
        ["170141183460469231731687303715884105727", "-1"],
        "object",
        "string",
        "String",
        pandas_values=[170141183460469231731687303715884105727, -1],
    ),
    Case(
        "JSON",
        ['{"a": [1]}', None],
        ['{"a": [1]}', None],
        "object",
        "string",
        "String",
        pandas_values=[{"a": [1]}, None],
    ),
]


def _canonical(value: Any) -> Any:
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return NAN
    if hasattr(value, "item") and not isinstance(value, (list, dict, tuple)):  # numpy scalars
        value = value.item()
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, list) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return dict(value)  # Arrow's map as (key, value) pairs
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, dict) and set(v) == {"key", "value"} for v in value)
    ):
        return {v["key"]: v["value"] for v in value}  # Polars' map as structs
    return value


def _same_instant(got: list[Any], want: list[Any]) -> bool:
    # Aware datetimes compare as instants; the zone itself is checked through the column type.
    return all(
        (g is None and w is None) or (isinstance(g, datetime) and isinstance(w, datetime) and g == w)
        for g, w in zip(got, want, strict=True)
    )


def _result(case: Case) -> RunResult:
    return RunResult.from_api(
        {
            "columns": ["c"],
            "types": [["c", case.clickhouse]],
            "results": [[v] for v in case.sent],
            "timezone": case.result_timezone,
        }
    )


def _check(got: list[Any], want: list[Any], case: Case | None = None) -> None:
    if case is not None and case.clickhouse.startswith("Map"):  # an empty map reads back as []
        got = [dict(g) if isinstance(g, list) else g for g in got]
    if any(isinstance(w, datetime) for w in want):
        assert _same_instant(got, want), (got, want)
    else:
        assert got == want


@pytest.mark.parametrize("case", CASES, ids=[c.clickhouse for c in CASES])
def test_pandas(case: Case) -> None:
    column = _result(case).to_pandas()["c"]
    assert str(column.dtype) == case.pandas
    got = [_canonical(v) for v in column.astype(object).tolist()]
    if case.pandas == "datetime64[ns]":  # pandas holds ClickHouse dates as midnight timestamps
        got = [None if v is None else v.date() for v in got]
    _check(got, case.pandas_values if case.pandas_values is not None else case.values)


@pytest.mark.parametrize("case", CASES, ids=[c.clickhouse for c in CASES])
def test_arrow(case: Case) -> None:
    table = _result(case).to_arrow()
    assert str(table.schema.field("c").type) == case.arrow
    _check([_canonical(v) for v in table.column("c").to_pylist()], case.values, case)


@pytest.mark.parametrize("case", CASES, ids=[c.clickhouse for c in CASES])
def test_polars(case: Case) -> None:
    frame = _result(case).to_polars()
    assert str(frame.schema["c"]) == case.polars
    _check([_canonical(v) for v in frame["c"].to_list()], case.values, case)


def test_the_matrix_covers_what_the_issue_asks() -> None:
    names = " ".join(c.clickhouse for c in CASES)
    for needed in ("UInt", "Nullable", "Decimal", "Date", "DateTime('Europe/Berlin')", "Array", "Map"):
        assert needed in names


def test_a_value_that_does_not_fit_keeps_its_text_in_every_kind(caplog) -> None:
    result = RunResult.from_api({"columns": ["n"], "types": [["n", "UInt8"]], "results": [[1], ["many"]]})
    assert result.to_arrow().column("n").to_pylist() == ["1", "many"]
    assert result.to_polars()["n"].to_list() == ["1", "many"]
    assert result.to_pandas()["n"].tolist() == [1, "many"]  # pandas keeps the raw values as objects
    assert "do not fit" in caplog.text


def test_polars_and_arrow_hold_the_same_instants_as_pandas_across_a_dst_change() -> None:
    sent = [
        (datetime(2026, 3, 29, 0, tzinfo=timezone.utc) + timedelta(minutes=30 * i)).isoformat()
        for i in range(6)
    ]
    case = Case("DateTime64(6, 'Europe/Berlin')", sent, [], "", "", "")
    result = _result(case)
    as_pandas = [t.to_pydatetime() for t in result.to_pandas()["c"]]
    assert result.to_arrow().column("c").to_pylist() == as_pandas
    assert result.to_polars()["c"].to_list() == as_pandas
