"""Layout is not a change; strings and comments are; diffs show only the changed lines."""

from __future__ import annotations

from pathlib import Path

from endpoints_dagster.as_code import parse_endpoint_file
from endpoints_dagster.as_code.hogql_text import normalized, reflow
from endpoints_dagster.as_code.plan import compare
from endpoints_dagster.client.models import Endpoint


def test_layout_does_not_count_but_strings_and_comments_do() -> None:
    assert normalized("SELECT a,\n    b\nFROM t") == normalized("SELECT a, b FROM t")
    assert normalized("SELECT 'a  b'") != normalized("SELECT 'a b'")
    assert normalized("SELECT `x  y`") != normalized("SELECT `x y`")
    assert normalized("SELECT 'it\\'s  here'") != normalized("SELECT 'it\\'s here'")
    assert normalized("SELECT a -- note\n, b") != normalized("SELECT a -- note , b")


def test_a_one_line_query_is_diffed_against_a_formatted_file_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "revenue.sql"
    path.write_text(
        "SELECT country,\n       count() AS purchases\nFROM events\nWHERE event = 'purchase'\n"
        "GROUP BY country\nORDER BY purchases DESC, country\n"
    )
    file = parse_endpoint_file(path)
    remote = Endpoint(
        "revenue",
        current_version=1,
        query={
            "kind": "HogQLQuery",
            "query": "SELECT country, count() AS purchases FROM events WHERE event = 'purchase' "
            "GROUP BY country ORDER BY purchases DESC",
        },
    )
    change = compare(file, remote, None)
    assert change.new_version
    changed = [
        line for line in change.query_diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert changed == ["-ORDER BY purchases DESC", "+ORDER BY purchases DESC, country"]

    same = Endpoint(
        "revenue", current_version=1, query={"kind": "HogQLQuery", "query": normalized(file.query)}
    )
    assert compare(file, same, None).action == "unchanged"


def test_reflow_keeps_the_old_tokens() -> None:
    assert reflow("SELECT 1 AS x", like="SELECT 2\nAS x") == "SELECT 1\nAS x"
