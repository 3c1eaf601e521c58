"""The allowlist itself (``engine/query_guard.py``), without a server: fast checks of every
attack spelling against sqlglot's parse, and of ClickHouse's ``EXPLAIN AST`` text.

The end-to-end refusals (through the API, as 400s) are in the ``test_*`` modules beside this one.
"""

from __future__ import annotations

import pytest
from attack_helpers import spellings, table_function_spellings, table_spellings

from endpoints_dagster.local.engine import hogql, query_guard
from endpoints_dagster.local.engine.query_guard import QueryRefused, check, check_engine_ast, function_allowed

TABLES = {"events"}
ATTACKS = {
    **{f"file {k}": v for k, v in spellings("file", "'/proc/self/cmdline'").items()},
    **{f"file table {k}": v for k, v in table_function_spellings("file", "'/etc/passwd'").items()},
    **{f"url table {k}": v for k, v in table_function_spellings("url", "'http://x/'").items()},
    **{f"system {k}": v for k, v in table_spellings("system", "tables").items()},
    **{f"p1 {k}": v for k, v in table_spellings("p1", "mat_p1_x_v1").items()},
    "escaped backquote": "SELECT `\\x66ile`('/etc/passwd')",
    "settings": "SELECT 1 SETTINGS readonly = 0",
    "format": "SELECT 1 FORMAT JSON",
    "outfile": "SELECT 1 INTO OUTFILE 'x'",
    "combinator on file": "SELECT fileIf('/etc/passwd', 1)",
    "two statements": "SELECT 1; SELECT 2",
    "insert": "INSERT INTO events SELECT * FROM events",
    "unbound placeholder": "SELECT {x:String}",
}


@pytest.mark.parametrize("sql", ATTACKS.values(), ids=ATTACKS.keys())
def test_every_spelling_is_refused_by_the_allowlist(sql):
    with pytest.raises(QueryRefused):
        check(sql, tables=TABLES)


HOGQL = [
    "SELECT count() FROM events",
    "SELECT toDate(timestamp) AS day, count() AS n FROM events WHERE event = {variables.e} GROUP BY day",
    "WITH x AS (SELECT 1 AS a) SELECT * FROM x UNION ALL SELECT 2",
    "SELECT countIf(event = 'a'), uniqExactIf(person_id, event = 'b'), quantileIf(0.5)(1, true) FROM events",
    "SELECT count() OVER (PARTITION BY event) FROM events",
    "SELECT number FROM numbers(10)",
    "SELECT properties.$browser AS b, toFloat(properties.revenue) AS r FROM events WHERE {filters}",
    "SELECT arrayMap(x -> x + 1, [1, 2]), if(1, 2, 3), CAST(1 AS String), now() - INTERVAL 7 DAY",
    "SELECT 1 AS `system`, 'file' AS `file`",
]


@pytest.mark.parametrize("sql", HOGQL)
def test_hogql_endpoint_queries_pass(sql):
    hogql.translate(sql, {"e": "signup"}, {"date_from": "-7d", "properties": [{"key": "a", "value": "b"}]})


def test_names_are_judged_in_any_case_with_combinators():
    assert function_allowed("count") and function_allowed("COUNT") and function_allowed("uniqExactIf")
    assert function_allowed("sumArrayIf") and not function_allowed("fileIf") and not function_allowed("File")


def test_clickhouse_ast_names_are_judged_too():
    explain = "SelectQuery\n TableExpression (children 1)\n  Function url (children 1)\n"
    with pytest.raises(QueryRefused, match="url"):
        check_engine_ast(explain, tables=TABLES, ctes=set())
    with pytest.raises(QueryRefused, match="file"):
        check_engine_ast(
            "SelectQuery\n ExpressionList\n  Function file (children 1)\n", tables=TABLES, ctes=set()
        )
    with pytest.raises(QueryRefused, match=r"system\.tables"):
        check_engine_ast("  TableIdentifier system.tables\n", tables=TABLES, ctes=set())
    check_engine_ast(
        " TableExpression\n  Function numbers\n Function plus\n TableIdentifier events\n",
        tables=TABLES,
        ctes=set(),
    )
    check_engine_ast(
        " TableIdentifier t\n",
        tables=TABLES,
        ctes=query_guard.cte_names("WITH t AS (SELECT 1) SELECT * FROM t"),
    )
