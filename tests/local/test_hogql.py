"""HogQL sugar -> ClickHouse SQL: the rewrite, the parameter binding and what is refused.

Pure text tests (no engine); test_engine.py checks the same sugar end to end on chDB.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from endpoints_dagster.local.engine import hogql
from endpoints_dagster.local.engine.hogql import HogQLError, bind_value, translate

READ_BROWSER = (
    "replaceRegexpAll(nullIf(nullIf(JSONExtractRaw(properties, '$browser'), ''), 'null'), '^\"|\"$', '')"
)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'it''s', `a``b`, \"c\\\"d\" FROM events -- tail",
        "SELECT /* a ; b */ 1 # c ;\n, 0x1F, 1.5e3, $$x$$",
        "SELECT 'unterminated",
        "",
    ],
)
def test_tokenize_round_trips_any_text(sql: str) -> None:
    assert "".join(t.text for t in hogql.tokenize(sql)) == sql


def test_property_reads_become_json_reads_named_after_the_key() -> None:
    t = translate("SELECT properties.$browser, count() FROM events GROUP BY properties.$browser")
    assert t.sql == f"SELECT {READ_BROWSER} AS `$browser`, count() FROM events GROUP BY {READ_BROWSER}"


@pytest.mark.parametrize(
    ("hogql_expr", "column", "keys"),
    [
        ("properties.plan", "properties", ["plan"]),
        ("e.properties.$os", "e.properties", ["$os"]),
        ("events.properties.`a b`", "events.properties", ["a b"]),
        ("properties['$current_url']", "properties", ["$current_url"]),
        ("properties.a.b", "properties", ["a", "b"]),
    ],
)
def test_property_read_forms(hogql_expr: str, column: str, keys: list[str]) -> None:
    t = translate(f"SELECT 1 FROM events e WHERE {hogql_expr} = 'x'")
    assert t.sql == f"SELECT 1 FROM events e WHERE {hogql.property_read(column, keys)} = 'x'"


def test_property_alias_only_for_bare_select_items() -> None:
    sql = translate(
        "SELECT concat(properties.a, properties.b), properties.c AS c2, properties.event FROM events"
    ).sql
    assert "AS `a`" not in sql and "AS `b`" not in sql  # function arguments
    assert sql.count(" AS ") == 1 and "AS c2" in sql  # an explicit alias wins
    assert "AS `event`" not in sql  # would shadow the events.event column


def test_text_inside_strings_and_comments_is_untouched() -> None:
    sql = "SELECT 'properties.$browser {variables.x}' /* properties.plan {filters} */ FROM events"
    t = translate(sql)
    assert t.sql == sql and t.params == {} and t.variables == frozenset()
    assert hogql.referenced_variables(sql) == set() and not hogql.has_filters_placeholder(sql)


def test_tofloat_and_toint_cast_like_hogql() -> None:
    t = translate("SELECT toFloat(properties.revenue), toInt(length(concat('a', 'b'))) FROM events")
    assert "accurateCastOrNull(replaceRegexpAll(" in t.sql and "'null'), '^\"|\"$', ''), 'Float64')" in t.sql
    assert "accurateCastOrNull(length(concat('a', 'b')), 'Int64')" in t.sql
    assert "toFloat(" not in t.sql and "toInt(" not in t.sql


@pytest.mark.parametrize(
    ("value", "ch_type", "text"),
    [
        ("pro", "String", "pro"),
        ("a\tb\nc\\d", "String", "a\\tb\\nc\\\\d"),
        ("'; DROP TABLE events; --", "String", "'; DROP TABLE events; --"),
        (True, "Bool", "true"),
        (42, "Int64", "42"),
        (2**63, "UInt64", str(2**63)),
        (1.5, "Float64", "1.5"),
        (None, "Nullable(String)", "\\N"),
        (["a", "b'c"], "Array(String)", "['a','b\\'c']"),
        ([1, 2.5], "Array(Float64)", "[1,2.5]"),
        ([1, None], "Array(Nullable(Int64))", "[1,NULL]"),
        ([], "Array(Nothing)", "[]"),
        ([[1], [2, 3]], "Array(Array(Int64))", "[[1],[2,3]]"),
    ],
)
def test_bind_value_types_and_text(value: object, ch_type: str, text: str) -> None:
    assert bind_value(value) == (ch_type, text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("2026-01-01", "2026-01-01"),
        ("2026-01-01 10:00:00", "2026-01-01 10:00:00"),
        ("2026-01-01T10:00:00Z", "2026-01-01 10:00:00"),
        ("2026-01-01T10:00:00.25+02:00", "2026-01-01 08:00:00.250000"),
        ("not-a-date T", "not-a-date T"),
    ],
)
def test_iso_datetimes_are_rewritten_so_clickhouse_can_compare_them(value: str, text: str) -> None:
    assert bind_value(value) == ("String", text)


@pytest.mark.parametrize("value", [2**64, {"a": 1}, ["a", 1]])
def test_unbindable_values_are_refused_with_the_variable_name(value: object) -> None:
    with pytest.raises(HogQLError, match="variable 'v'"):
        translate("SELECT {variables.v}", {"v": value})


def test_variables_become_typed_parameters_never_text() -> None:
    evil = "'; DROP TABLE events; --"
    t = translate(
        "SELECT * FROM events WHERE event = {variables.e} AND {variables.n} > 1 AND {variables.e} != ''",
        {"e": evil, "n": 3, "unused": 1},
    )
    assert (
        t.sql == "SELECT * FROM events WHERE event = {v_e:String} AND {v_n:Int64} > 1 AND {v_e:String} != ''"
    )
    assert t.params == {"v_e": evil, "v_n": "3"}
    assert evil not in t.sql and t.variables == frozenset({"e", "n"})


def test_missing_variables_are_named() -> None:
    with pytest.raises(HogQLError, match="Missing value for variable\\(s\\): a, b") as err:
        translate("SELECT {variables.b}, { variables.a }, {variables.b}", {})
    assert err.value.attr == "variables"


def test_referenced_variables_and_filters_placeholder() -> None:
    sql = "SELECT 1 FROM events WHERE {filters} AND day >= {variables.since} AND x = { variables.until }"
    assert hogql.referenced_variables(sql) == {"since", "until"}
    assert hogql.has_filters_placeholder(sql)
    assert not hogql.has_filters_placeholder("SELECT 1")


def test_raw_clickhouse_placeholders_are_refused() -> None:
    with pytest.raises(HogQLError, match="Placeholders"):
        translate("SELECT {x:String}")


def test_normalise_ignores_whitespace_but_not_literals() -> None:
    assert hogql.normalise("SELECT  a,b\nFROM events ;") == hogql.normalise("SELECT a , b FROM events")
    assert hogql.normalise("SELECT 'a  b'") != hogql.normalise("SELECT 'a b'")
    assert hogql.normalise("SELECT 1") != hogql.normalise("SELECT 2")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT 1; DROP TABLE events", "single statement"),
        ("DROP TABLE events", "Only SELECT"),
        ("INSERT INTO events SELECT * FROM events", "Only SELECT"),
        ("SELECT (1", "Unbalanced"),
        ("SELECT 1)", "Unbalanced"),
        ("SELECT * FROM file('/etc/passwd')", "not available"),
        ("SELECT * FROM url('http://example.com', CSV)", "not available"),
        ("SELECT * FROM system.processes", "System tables"),
        ("SELECT 1 INTO OUTFILE 'x'", "not available"),
        ("SELECT $$a$$", "Heredoc"),
        ("SELECT 'open", "Unterminated"),
        ("SELECT 1 /* open", "Unterminated"),
        ("   ", "empty"),
    ],
)
def test_what_hogql_refuses(sql: str, message: str) -> None:
    with pytest.raises(HogQLError, match=message):
        translate(sql)


def test_trailing_semicolons_and_with_clauses_are_fine() -> None:
    assert translate("SELECT 1;;").sql == "SELECT 1"
    assert translate("WITH a AS (SELECT 1) SELECT * FROM a").sql.startswith("WITH")


@pytest.mark.parametrize(
    ("sql", "has_limit"),
    [
        ("SELECT 1 LIMIT 5", True),
        ("select 1 limit 5 offset 2", True),
        ("SELECT * FROM (SELECT 1 LIMIT 5)", False),
        ("SELECT 'LIMIT 5'", False),
        ("SELECT 1", False),
    ],
)
def test_own_limit_detection(sql: str, has_limit: bool) -> None:
    assert translate(sql).has_limit is has_limit


def test_no_filters_means_true() -> None:
    assert translate("SELECT 1 WHERE {filters}").sql == "SELECT 1 WHERE true"
    assert translate("SELECT 1 WHERE {filters}", filters={}).sql == "SELECT 1 WHERE true"


def test_filters_build_a_parameterised_condition() -> None:
    filters = {
        "date_from": "2026-01-01",
        "date_to": "2026-01-31",
        "properties": [
            {"key": "$browser", "value": "Chrome", "operator": "exact"},
            {"key": "$os", "value": ["Linux", "iOS"], "operator": "is_not"},
            {"key": "revenue", "value": "10", "operator": "gt"},
            {"key": "$current_url", "value": "'; DROP", "operator": "icontains"},
            {"key": "plan", "operator": "is_set"},
        ],
    }
    t = translate("SELECT 1 FROM events WHERE {filters}", filters=filters)
    assert t.params == {
        "f_1": "2026-01-01 00:00:00.000000",
        "f_2": "2026-02-01 00:00:00.000000",  # a bare date_to includes that whole day
        "f_3": "Chrome",
        "f_4": "['Linux','iOS']",
        "f_5": "10.0",
        "f_6": "'; DROP",
    }
    assert "timestamp >= {f_1:DateTime64(6, 'UTC')} AND timestamp < {f_2:DateTime64(6, 'UTC')}" in t.sql
    assert f"ifNull({READ_BROWSER} = {{f_3:String}}, 0)" in t.sql
    assert "NOT IN {f_4:Array(String)}, 1)" in t.sql
    assert "> {f_5:Float64}" in t.sql and "concat('%', {f_6:String}, '%')" in t.sql and "IS NOT NULL" in t.sql
    assert "DROP" not in t.sql


def test_relative_filter_dates() -> None:
    t = translate("SELECT 1 WHERE {filters}", filters={"date_from": "-7d"})
    moment = datetime.strptime(t.params["f_1"], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
    expected = datetime.now(timezone.utc) - timedelta(days=7)
    assert abs((moment - expected).total_seconds()) < 60


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"date_from": "yesterday-ish"}, "cannot read"),
        ({"properties": [{"key": "a", "value": "1", "operator": "near"}]}, "unknown operator"),
        ({"properties": [{"key": "a", "value": "x", "operator": "gt"}]}, "needs a number"),
        ({"properties": [{"value": "x"}]}, "'key'"),
        ({"properties": [{"key": "email", "value": "x", "type": "person"}]}, "only event properties"),
        ({"properties": "plan=pro"}, "must be a list"),
    ],
)
def test_bad_filters_are_explained(filters: dict, message: str) -> None:
    with pytest.raises(HogQLError, match=message) as err:
        translate("SELECT 1 WHERE {filters}", filters=filters)
    assert err.value.attr == "filters_override"


def test_property_groups_combine_with_or() -> None:
    group = {"type": "OR", "values": [{"key": "plan", "value": "pro"}, {"key": "plan", "value": "starter"}]}
    t = translate("SELECT 1 WHERE {filters}", filters={"properties": [group]})
    assert ") OR ifNull(" in t.sql and t.params == {"f_1": "pro", "f_2": "starter"}
