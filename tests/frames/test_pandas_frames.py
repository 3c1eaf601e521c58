"""ClickHouse `types` -> pandas dtypes: one test per type family, expected values written by hand."""

from __future__ import annotations

import datetime as dt
import logging
import random
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from endpoints_dagster.frames.pandas import (
    ClickHouseType,
    concat_frames,
    pandas_dtype_for,
    parse_clickhouse_type,
    to_dataframe,
)


def frame(types: dict[str, str], *rows: list, **kwargs) -> pd.DataFrame:
    """A frame from ``{column: type}`` and rows, the way a run result carries them."""
    return to_dataframe(list(types), [[n, t] for n, t in types.items()], [list(r) for r in rows], **kwargs)


def dtypes(df: pd.DataFrame) -> list[str]:
    return [str(d) for d in df.dtypes]


UTC = dt.timezone.utc


# --- integers -------------------------------------------------------------------------------------


def test_integers_get_numpy_dtypes_of_their_width_and_sign():
    types = {
        "i8": "Int8",
        "i16": "Int16",
        "i32": "Int32",
        "i64": "Int64",
        "u8": "UInt8",
        "u16": "UInt16",
        "u32": "UInt32",
        "u64": "UInt64",
    }
    df = frame(
        types,
        [-128, -32768, -2147483648, -9223372036854775808, 0, 0, 0, 0],
        [127, 32767, 2147483647, 9223372036854775807, 255, 65535, 4294967295, 18446744073709551615],
    )
    assert dtypes(df) == ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
    assert df["i64"].tolist() == [-9223372036854775808, 9223372036854775807]
    assert df["u64"].tolist() == [0, 18446744073709551615]  # not rounded through float64


def test_quoted_64_bit_integers_are_parsed():
    # ClickHouse's JSON output quotes (U)Int64 by default (output_format_json_quote_64bit_integers)
    df = frame({"n": "UInt64", "m": "Int64"}, ["18446744073709551615", "-5"], ["7", "12"])
    assert dtypes(df) == ["uint64", "int64"]
    assert df["n"].tolist() == [18446744073709551615, 7]
    assert df["m"].tolist() == [-5, 12]


def test_nullable_integers_use_masked_dtypes():
    df = frame(
        {"a": "Nullable(Int64)", "b": "Nullable(UInt8)", "c": "LowCardinality(Nullable(UInt64))"},
        [None, 3, "18446744073709551615"],
        [-2, None, None],
    )
    assert dtypes(df) == ["Int64", "UInt8", "UInt64"]
    assert df["a"].isna().tolist() == [True, False]
    assert df["a"][1] == -2
    assert df["b"][0] == 3 and df["b"].isna().tolist() == [False, True]
    assert df["c"][0] == 18446744073709551615


def test_nullable_integer_without_nulls_keeps_the_masked_dtype():
    assert dtypes(frame({"a": "Nullable(Int32)"}, [1], [2])) == ["Int32"]


def test_null_in_a_non_nullable_integer_column_becomes_a_masked_dtype(caplog):
    with caplog.at_level(logging.WARNING, logger="endpoints_dagster.frames.pandas"):
        df = frame({"a": "UInt32"}, [1], [None])
    assert dtypes(df) == ["UInt32"]
    assert df["a"][0] == 1 and df["a"].isna().tolist() == [False, True]
    assert "Nullable" in caplog.text


def test_int128_and_256_keep_exact_python_ints():
    df = frame(
        {"i": "Int128", "u": "UInt256", "n": "Nullable(Int128)"},
        ["-170141183460469231731687303715884105728", 2**256 - 1, None],
        [5, "0", "12"],
    )
    assert dtypes(df) == ["object", "object", "object"]
    assert df["i"].tolist() == [-(2**127), 5]
    assert df["u"].tolist() == [2**256 - 1, 0]
    assert df["n"].tolist() == [None, 12]
    assert all(type(v) is int for v in df["i"])


def test_interval_types_are_int64_counts():
    assert dtypes(frame({"d": "IntervalDay"}, [3])) == ["int64"]


# --- floats and decimals ------------------------------------------------------------------------------


def test_floats_and_nullable_floats():
    df = frame(
        {"f32": "Float32", "f64": "Float64", "nf": "Nullable(Float64)"},
        [1.5, 0.1, None],
        [-2, None, 2.25],  # ClickHouse writes nan/inf as null in JSON: NaN in a non-nullable column
    )
    assert dtypes(df) == ["float32", "float64", "Float64"]
    assert df["f32"].tolist() == [1.5, -2.0]
    assert df["f64"][0] == 0.1 and np.isnan(df["f64"][1])
    assert df["nf"].isna().tolist() == [True, False] and df["nf"][1] == 2.25


def test_decimals_become_exact_decimal_objects():
    df = frame(
        {"d": "Decimal(10, 2)", "d64": "Decimal64(4)", "nd": "Nullable(Decimal(18, 3))"},
        ["12.34", 0.1, None],
        [5, "-0.0001", "1.500"],
    )
    assert dtypes(df) == ["object", "object", "object"]
    assert df["d"].tolist() == [Decimal("12.34"), Decimal("5")]
    assert df["d64"][0] == Decimal("0.1")  # the float's shortest text, not 0.1000000000000000055...
    assert str(df["d64"][1]) == "-0.0001"
    assert df["nd"][0] is None and str(df["nd"][1]) == "1.500"


# --- strings, bools ---------------------------------------------------------------------------------


def test_string_like_types_use_the_string_dtype():
    types = {
        "s": "String",
        "fs": "FixedString(3)",
        "u": "UUID",
        "e": "Enum8('a' = 1, 'b' = 2)",
        "ip4": "IPv4",
        "ip6": "IPv6",
        "lc": "LowCardinality(String)",
        "ns": "Nullable(String)",
    }
    df = frame(
        types,
        ["héllo", "abc", "0190a7c3-4c5f-7e34-8d3e-1b2c3d4e5f60", "a", "10.0.0.1", "::1", "x", None],
        ["", "xyz", "00000000-0000-0000-0000-000000000000", "b", "127.0.0.1", "fe80::1", "x", "n"],
    )
    assert dtypes(df) == ["string"] * 8
    assert df["s"].tolist() == ["héllo", ""]
    assert df["e"].tolist() == ["a", "b"]
    assert df["ns"].isna().tolist() == [True, False] and df["ns"][1] == "n"


def test_bools_and_nullable_bools():
    df = frame({"b": "Bool", "nb": "Nullable(Bool)", "i": "Bool"}, [True, None, 1], [False, True, 0])
    assert dtypes(df) == ["bool", "boolean", "bool"]
    assert df["b"].tolist() == [True, False]
    assert df["nb"].isna().tolist() == [True, False] and df["nb"][1] is np.True_
    assert df["i"].tolist() == [True, False]


# --- dates and timestamps --------------------------------------------------------------------------------


def test_dates_are_naive_midnights():
    df = frame(
        {"d": "Date", "d32": "Date32", "nd": "Nullable(Date)"},
        ["2026-01-01", "1900-01-01", None],
        ["2024-02-29", "2149-06-06", "1970-01-01"],
    )
    assert dtypes(df) == ["datetime64[ns]"] * 3
    assert df["d"].tolist() == [pd.Timestamp(2026, 1, 1), pd.Timestamp(2024, 2, 29)]
    assert df["d32"].tolist() == [pd.Timestamp(1900, 1, 1), pd.Timestamp(2149, 6, 6)]
    assert pd.isna(df["nd"][0]) and df["nd"][1] == pd.Timestamp(1970, 1, 1)


def test_dates_past_2262_keep_their_value_at_microsecond_precision():
    df = frame({"d": "Date32"}, ["2299-12-31"])
    assert df["d"][0] == pd.Timestamp("2299-12-31")


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-02T03:04:05.123456Z",  # PostHog (DRF)
        "2026-01-02T03:04:05.123456+00:00",  # PostHog (isoformat)
        "2026-01-02 03:04:05.123456",  # ClickHouse's own format
        "2026-01-02T04:04:05.123456+01:00",
        "2026-01-01T22:04:05.123456-05:00",
    ],
)
def test_datetime64_utc_accepts_every_form_posthog_and_clickhouse_write(text):
    df = frame({"t": "DateTime64(6, 'UTC')"}, [text])
    assert dtypes(df) == ["datetime64[ns, UTC]"]
    assert df["t"][0] == pd.Timestamp(dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC))


def test_datetime_fractions_of_any_length_in_one_column():
    # Python's isoformat drops ".000000" at whole seconds, so lengths vary inside a column
    df = frame(
        {"t": "DateTime64(9)"},
        ["2026-01-02T03:04:05Z"],
        ["2026-01-02T03:04:05.5Z"],
        ["2026-01-02T03:04:05.000000001Z"],
    )
    base = pd.Timestamp("2026-01-02 03:04:05", tz="UTC")
    assert df["t"].tolist() == [base, base + pd.Timedelta("500ms"), base + pd.Timedelta(1, "ns")]


def test_datetime_with_a_zone_in_the_type():
    df = frame(
        {"t": "DateTime64(6, 'Europe/Berlin')", "w": "DateTime('Europe/Berlin')"},
        ["2026-07-01T12:00:00+02:00", "2026-01-01 00:00:00"],  # an instant; a Berlin wall time
        ["2026-01-01T00:00:00Z", "2026-07-01 12:00:00"],
    )
    assert dtypes(df) == ["datetime64[ns, Europe/Berlin]"] * 2
    assert df["t"][0] == pd.Timestamp("2026-07-01T10:00:00Z")
    assert df["t"][1] == pd.Timestamp("2026-01-01T00:00:00Z")
    assert df["t"][1].hour == 1  # shown in Berlin time
    assert df["w"][0] == pd.Timestamp("2025-12-31T23:00:00Z")
    assert df["w"][1] == pd.Timestamp("2026-07-01T10:00:00Z")


def test_datetime_with_mixed_offsets_across_a_dst_change():
    df = frame(
        {"t": "DateTime('Europe/Berlin')"}, ["2026-03-29T01:30:00+01:00"], ["2026-03-29T03:30:00+02:00"]
    )
    assert df["t"].tolist() == [pd.Timestamp("2026-03-29T00:30:00Z"), pd.Timestamp("2026-03-29T01:30:00Z")]


def test_datetime_without_zone_uses_utc_or_the_given_timezone():
    assert dtypes(frame({"t": "DateTime"}, ["2026-01-01T00:00:00Z"])) == ["datetime64[ns, UTC]"]
    df = frame({"t": "DateTime"}, ["2026-01-01 00:00:00"], timezone="America/New_York")
    assert dtypes(df) == ["datetime64[ns, America/New_York]"]
    assert df["t"][0] == pd.Timestamp("2026-01-01T05:00:00Z")


def test_nullable_datetime_and_epoch_seconds():
    df = frame(
        {"t": "Nullable(DateTime64(3, 'UTC'))", "e": "DateTime"},
        [None, 0],
        ["2026-01-01T00:00:00.250Z", 86400],
    )
    assert pd.isna(df["t"][0]) and df["t"][1] == pd.Timestamp("2026-01-01T00:00:00.250Z")
    assert df["e"].tolist() == [pd.Timestamp("1970-01-01", tz="UTC"), pd.Timestamp("1970-01-02", tz="UTC")]


def test_fast_timestamp_parsing_matches_python_datetimes():
    rnd = random.Random(7)
    stamps = [
        dt.datetime(1970, 1, 1, tzinfo=UTC)
        + dt.timedelta(
            seconds=rnd.randrange(-2 * 10**9, 9 * 10**9), microseconds=rnd.choice([0, rnd.randrange(10**6)])
        )
        for _ in range(2000)
    ] + [
        dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
        dt.datetime(2000, 3, 1, tzinfo=UTC),
        dt.datetime(1900, 1, 1, tzinfo=UTC),
        dt.datetime(2100, 12, 31, tzinfo=UTC),
    ]
    expected = [pd.Timestamp(s) for s in stamps]
    for form in (
        lambda s: s.isoformat(),
        lambda s: s.isoformat().replace("+00:00", "Z"),
        lambda s: s.strftime("%Y-%m-%d %H:%M:%S.%f"),
    ):
        df = frame({"t": "DateTime64(6, 'UTC')"}, *[[form(s)] for s in stamps])
        assert df["t"].tolist() == expected
    days = frame({"d": "Date"}, *[[s.date().isoformat()] for s in stamps])
    assert days["d"].tolist() == [pd.Timestamp(s.date()) for s in stamps]


def test_impossible_dates_fall_back_to_raw_values(caplog):
    with caplog.at_level(logging.WARNING, logger="endpoints_dagster.frames.pandas"):
        df = frame({"d": "Date", "t": "DateTime"}, ["2026-02-30", "2026-01-01T25:00:00Z"])
    assert dtypes(df) == ["object", "object"]
    assert df["d"].tolist() == ["2026-02-30"]
    assert "'d'" in caplog.text and "'t'" in caplog.text


# --- composite, JSON and unknown types ------------------------------------------------------------------


def test_arrays_tuples_maps_and_nested_hold_python_values():
    df = frame(
        {
            "a": "Array(String)",
            "t": "Tuple(UInt8, String)",
            "m": "Map(String, UInt64)",
            "n": "Nested(x String, y UInt8)",
            "aa": "Array(Array(Nullable(Int32)))",
        },
        [["x", "y"], [1, "a"], {"k": 1}, [["p", 2]], [[1, None], []]],
        [[], [2, "b"], {}, [], []],
    )
    assert dtypes(df) == ["object"] * 5
    assert df["a"].tolist() == [["x", "y"], []]
    assert df["t"].tolist() == [(1, "a"), (2, "b")]
    assert df["m"].tolist() == [{"k": 1}, {}]
    assert df["aa"][0] == [[1, None], []]


def test_json_columns_hold_parsed_values():
    df = frame(
        {"j": "JSON", "o": "Object('json')", "d": "Dynamic", "v": "Variant(String, UInt64)"},
        [{"a": {"b": 1}}, '{"x": [1, 2]}', 5, "s"],
        ['[1, "two"]', None, "text", 7],
    )
    assert df["j"].tolist() == [{"a": {"b": 1}}, [1, "two"]]
    assert df["o"].tolist() == [{"x": [1, 2]}, None]
    assert df["d"].tolist() == [5, "text"] and df["v"].tolist() == ["s", 7]


def test_unknown_types_keep_raw_values_without_error():
    df = frame(
        {"a": "Nothing", "b": "SomethingNew(1, 'x')", "c": "Broken(((", "d": "", "e": "Point"},
        [None, {"k": 1}, "raw", 3, [1.0, 2.0]],
    )
    assert dtypes(df) == ["object"] * 5
    assert df.iloc[0].tolist() == [None, {"k": 1}, "raw", 3, [1.0, 2.0]]


@pytest.mark.parametrize(
    ("type_", "values"),
    [
        ("Int64", ["12", "abc"]),
        ("Int8", [1, 300]),
        ("UInt32", [1, -1]),
        ("Int32", [1, 1.5]),
        ("Bool", [True, "maybe"]),
        ("Float64", [1.0, "abc"]),
        ("Decimal(9, 2)", ["1.0", "x"]),
    ],
)
def test_values_that_do_not_fit_make_the_column_object_with_a_warning(caplog, type_, values):
    with caplog.at_level(logging.WARNING, logger="endpoints_dagster.frames.pandas"):
        df = frame({"col": type_, "ok": "UInt8"}, [values[0], 1], [values[1], 2])
    assert dtypes(df) == ["object", "uint8"]
    assert df["col"].tolist() == values
    assert "'col'" in caplog.text and type_ in caplog.text


# --- shape: names, lengths, empty results, missing types ---------------------------------------------------


def test_duplicate_names_are_made_unique_predictably():
    df = to_dataframe(["x", "x", "x_1", "x", "y"], None, [[1, 2, 3, 4, 5]])
    assert list(df.columns) == ["x", "x_2", "x_1", "x_3", "y"]
    assert df.iloc[0].tolist() == [1, 2, 3, 4, 5]


def test_a_row_of_the_wrong_length_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Row 1 .* 3 values but there are 2 columns \(a, b\)"):
        to_dataframe(["a", "b"], [["a", "UInt8"], ["b", "UInt8"]], [[1, 2], [1, 2, 3]])


@pytest.mark.parametrize("rows", [[], None])
def test_empty_results_have_the_right_columns_and_dtypes(rows):
    types = {
        "n": "UInt64",
        "nn": "Nullable(Int32)",
        "f": "Float64",
        "s": "String",
        "b": "Nullable(Bool)",
        "d": "Date",
        "t": "DateTime64(6, 'Europe/Berlin')",
        "a": "Array(String)",
        "x": "Weird",
    }
    df = to_dataframe(list(types), [[k, v] for k, v in types.items()], rows)
    assert len(df) == 0 and list(df.columns) == list(types)
    assert dtypes(df) == [
        "uint64",
        "Int32",
        "float64",
        "string",
        "boolean",
        "datetime64[ns]",
        "datetime64[ns, Europe/Berlin]",
        "object",
        "object",
    ]


def test_missing_types_fall_back_to_inference():
    df = to_dataframe(["n", "s", "f"], None, [[1, "a", 1.5], [2, "b", None]])
    assert dtypes(df) == ["int64", "object", "float64"]
    assert df["s"].tolist() == ["a", "b"]


def test_types_are_matched_by_position_even_when_names_differ():
    # PostHog names `types` after ClickHouse expressions, `columns` after the HogQL aliases
    df = to_dataframe(
        ["day", "n"], [["toDate(timestamp)", "Date"], ["count()", "UInt64"]], [["2026-01-01", 3]]
    )
    assert dtypes(df) == ["datetime64[ns]", "uint64"]


def test_fewer_types_than_columns_are_matched_by_name():
    df = to_dataframe(["a", "b"], [["b", "UInt8"]], [[1, 2]])
    assert df["b"].dtype == np.uint8 and df["a"].tolist() == [1]


def test_rows_as_objects_are_accepted():
    df = to_dataframe(["a", "b"], [["a", "UInt8"], ["b", "String"]], [{"a": 1, "b": "x"}, {"b": "y", "a": 2}])
    assert df["a"].tolist() == [1, 2] and df["b"].tolist() == ["x", "y"]


# --- parsing and dtype mapping ------------------------------------------------------------------------------


def test_parse_clickhouse_type_unwraps_and_reads_arguments():
    t = parse_clickhouse_type("LowCardinality(Nullable(String))")
    assert (t.name, t.nullable, t.low_cardinality) == ("String", True, True)
    t = parse_clickhouse_type("Nullable(DateTime64(6, 'Europe/Berlin'))")
    assert (t.name, t.args, t.tz, t.nullable) == ("DateTime64", (6, "Europe/Berlin"), "Europe/Berlin", True)
    t = parse_clickhouse_type("Map(String, Array(Tuple(a UInt8, `b c` Nullable(String))))")
    key, value = t.args
    assert key == ClickHouseType(name="String", raw="String")
    inner = value.args[0]
    assert inner.name == "Tuple" and inner.names == ("a", "b c") and inner.args[1].nullable
    assert parse_clickhouse_type("Enum8('a,b' = 1, 'it\\'s' = 2)").args == ("a,b", "it\\'s")
    assert parse_clickhouse_type("Decimal(18, 4)").args == (18, 4)
    assert parse_clickhouse_type("SimpleAggregateFunction(sum, UInt64)").name == "UInt64"
    assert parse_clickhouse_type("((").name == "(("


def test_pandas_dtype_for_each_family():
    assert pandas_dtype_for("UInt64") == np.uint64
    assert pandas_dtype_for("Nullable(UInt16)") == pd.UInt16Dtype()
    assert pandas_dtype_for("Nullable(Float32)") == pd.Float32Dtype()
    assert pandas_dtype_for("Int256") == np.dtype(object)
    assert pandas_dtype_for("Nullable(Bool)") == pd.BooleanDtype()
    assert pandas_dtype_for("LowCardinality(String)") == pd.StringDtype()
    assert pandas_dtype_for("Date32") == np.dtype("datetime64[ns]")
    assert pandas_dtype_for("DateTime") == pd.DatetimeTZDtype("ns", "UTC")
    assert pandas_dtype_for("DateTime('Asia/Tokyo')") == pd.DatetimeTZDtype("ns", "Asia/Tokyo")
    assert pandas_dtype_for("DateTime('No/Such_Zone')") == pd.DatetimeTZDtype("ns", "UTC")


# --- pages -----------------------------------------------------------------------------------------------------


def test_concat_frames_keeps_dtypes_and_renumbers_rows():
    types = [["n", "Nullable(Int64)"], ["s", "String"], ["t", "DateTime64(6, 'UTC')"]]
    pages = [
        to_dataframe(
            ["n", "s", "t"], types, [[1, "a", "2026-01-01T00:00:00Z"], [None, "b", "2026-01-02T00:00:00Z"]]
        ),
        to_dataframe(["n", "s", "t"], types, []),
        to_dataframe(["n", "s", "t"], types, [[3, "c", "2026-01-03T00:00:00Z"]]),
    ]
    df = concat_frames(pages)
    assert dtypes(df) == ["Int64", "string", "datetime64[ns, UTC]"]
    assert list(df.index) == [0, 1, 2]
    assert df["s"].tolist() == ["a", "b", "c"] and df["n"].isna().tolist() == [False, True, False]
    assert dtypes(concat_frames(pages[1:2])) == ["Int64", "string", "datetime64[ns, UTC]"]
    assert concat_frames([]).empty


def test_concat_frames_refuses_pages_with_other_columns():
    with pytest.raises(ValueError, match="Page 1 has columns"):
        concat_frames([pd.DataFrame({"a": [1]}), pd.DataFrame({"b": [1]})])


def test_a_row_that_is_not_a_list_is_a_clear_error():
    with pytest.raises(ValueError, match="must be a list of values, got int"):
        to_dataframe(["a"], [["a", "UInt8"]], [[1], 5])


def test_int128_read_as_float_by_the_json_parser_is_flagged(caplog):
    with caplog.at_level(logging.WARNING, logger="endpoints_dagster.frames.pandas"):
        df = frame({"i": "Int128"}, [1.5e20], [3])
    assert df["i"].tolist() == [150000000000000000000, 3]
    assert "Int128" in caplog.text and "floats" in caplog.text
