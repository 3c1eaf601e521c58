"""Queries are tested before they serve: ``check_endpoint_files`` and ``plan --check-queries``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from endpoints_dagster import EndpointNotFoundError, EndpointsClient
from endpoints_dagster.as_code import EndpointCheckError, check_endpoint_files
from endpoints_dagster.local.process import LocalServer

pytestmark = pytest.mark.integration

Cli = Callable[..., tuple[int, str, str]]
Write = Callable[[str, str], Path]

GOOD = """\
-- variables:
--   since: {type: Date, default: "2026-01-01"}
-- expect: {columns: {day: Date, signups: UInt64}, min_rows: 1}

SELECT toDate(timestamp) AS day, count() AS signups
FROM events WHERE event = 'signup' AND timestamp >= {variables.since}
GROUP BY day ORDER BY day
"""


@pytest.fixture
def local_server(any_dialect_server: LocalServer) -> LocalServer:
    return any_dialect_server


def _no_scratch_left(client: EndpointsClient) -> bool:
    return not [e.name for e in client.list_endpoints() if e.name.startswith("check-")]


def test_good_files_pass_and_leave_nothing_behind(
    write: Write, folder: Path, prefix: str, as_code_client: EndpointsClient
) -> None:
    write(f"{prefix}signups", GOOD)
    [result] = check_endpoint_files(folder, as_code_client)
    assert result.ok and result.rows and result.rows >= 1 and result.columns == ("day", "signups")
    assert _no_scratch_left(as_code_client)
    with pytest.raises(EndpointNotFoundError):
        as_code_client.get_endpoint(f"{prefix}signups")  # a check deploys nothing


def test_a_broken_query_and_an_unmet_expectation_are_caught_naming_file_and_line(
    write: Write, folder: Path, prefix: str, as_code_client: EndpointsClient
) -> None:
    write(f"{prefix}broken", "-- description: typo\n\nSELECT no_such_column FROM events")
    write(f"{prefix}empty", "-- expect: {min_rows: 1}\nSELECT 1 AS one WHERE 1 = 0")
    write(f"{prefix}columns", "-- expect: {columns: [day]}\nSELECT 1 AS one")
    with pytest.raises(EndpointCheckError) as info:
        check_endpoint_files(folder, as_code_client)
    problems = {r.file.name: str(r) for r in info.value.results if not r.ok}
    assert set(problems) == {f"{prefix}broken", f"{prefix}empty", f"{prefix}columns"}
    assert problems[f"{prefix}broken"].startswith(f"{folder / (prefix + 'broken.sql')}:3: ")
    assert "no_such_column" in problems[f"{prefix}broken"] and "check-" not in problems[f"{prefix}broken"]
    assert "expected at least 1 row(s)" in problems[f"{prefix}empty"]
    assert "expected column(s) day; the query returns one" in problems[f"{prefix}columns"]
    assert _no_scratch_left(as_code_client)


def test_plan_check_queries_fails_the_build_before_planning(
    cli: Cli, write: Write, folder: Path, prefix: str, as_code_client: EndpointsClient
) -> None:
    write(f"{prefix}signups", GOOD)
    code, out, _ = cli("plan", folder, "--check-queries")
    assert code == 2 and f"check {folder / (prefix + 'signups.sql')}:5: ok" in out
    write(f"{prefix}broken", "SELECT no_such_column FROM events")
    code, out, _ = cli("apply", folder, "--check-queries")
    assert code == 1 and "Query check failed: nothing planned or applied." in out
    with pytest.raises(EndpointNotFoundError):
        as_code_client.get_endpoint(f"{prefix}signups")
