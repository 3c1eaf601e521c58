"""Endpoint files are parsed and checked before anything is sent: errors name the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from endpoints_dagster.as_code import (
    EndpointFileError,
    EndpointFilesError,
    load_endpoint_files,
    parse_endpoint_file,
)

GOOD = """\
-- description: Signups per day in [since, until).
-- variables:
--   since: {type: Date, default: 2026-10-01}
--   until: {type: Date, default: "2026-11-01"}
--   plan: pro
-- cache_age_seconds: 3600
-- tags: [growth]
-- expect: {columns: [day, signups], min_rows: 1}

-- a comment of the query, after the blank line
SELECT toDate(timestamp) AS day, count() AS signups
FROM events
WHERE event = 'signup' AND timestamp >= {variables.since} AND timestamp < {variables.until}
  AND properties.plan = {variables.plan}
GROUP BY day
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_gives_name_query_variables_settings_and_expectations(tmp_path: Path) -> None:
    spec = parse_endpoint_file(write(tmp_path, "daily_signups.sql", GOOD))
    assert spec.name == "daily_signups"
    assert spec.query.startswith("-- a comment of the query") and spec.query.endswith("GROUP BY day")
    assert spec.query_line == 10
    assert spec.defaults == {"since": "2026-10-01", "until": "2026-11-01", "plan": "pro"}
    assert [v.type for v in spec.variables.values()] == ["Date", "Date", "String"]
    assert spec.settings == {
        "description": "Signups per day in [since, until).",
        "cache_age_seconds": 3600,
        "is_materialized": False,
        "is_active": True,
    }
    assert spec.tags == ("growth",)
    assert spec.expect is not None and spec.expect.columns == ("day", "signups") and spec.expect.min_rows == 1


def test_the_code_version_follows_what_is_deployed_not_tags(tmp_path: Path) -> None:
    base = parse_endpoint_file(write(tmp_path, "a.sql", GOOD)).code_version
    assert (
        parse_endpoint_file(write(tmp_path, "a.sql", GOOD.replace("[growth]", "[other]"))).code_version
        == base
    )
    assert parse_endpoint_file(write(tmp_path, "a.sql", GOOD.replace("3600", "900"))).code_version != base
    assert (
        parse_endpoint_file(write(tmp_path, "a.sql", GOOD.replace("GROUP BY day", "GROUP BY 1"))).code_version
        != base
    )


def test_settings_may_sit_in_a_sidecar_yaml(tmp_path: Path) -> None:
    write(tmp_path, "top.sql", "SELECT event FROM events WHERE count() > {variables.n}\n")
    write(tmp_path, "top.yaml", "description: Top events\nvariables:\n  n: {type: Number, default: 10}\n")
    [spec] = load_endpoint_files(tmp_path)
    assert spec.description == "Top events" and spec.defaults == {"n": 10}


@pytest.mark.parametrize(
    ("name", "text", "line", "words"),
    [
        ("1bad.sql", "SELECT 1", None, "not a name PostHog accepts"),
        ("ok.sql", "-- description: x\nSELECT {variables.since}\n", 2, "do not declare it"),
        (
            "ok.sql",
            "-- variables:\n--   since: 1\n\nSELECT 1\nWHERE x = {variables.until}\n",
            5,
            "variables.until",
        ),
        ("ok.sql", "-- description: [unclosed\nSELECT 1\n", 1, "do not parse as YAML"),
        ("ok.sql", "-- just a comment\nSELECT 1\n", 1, "key: value"),
        ("ok.sql", "-- description: x\n-- cache: 3600\nSELECT 1\n", 2, "unknown setting 'cache'"),
        (
            "ok.sql",
            "-- description: x\n-- variables:\n--   since: 2026-01-01\n--   n: {type: Number, default: abc}\n"
            "SELECT {variables.n}, {variables.since}\n",
            4,
            "not a Number",
        ),
        ("ok.sql", "-- variables: {n: 1}\nSELECT 1\n", 1, "declared but the query does not use"),
        ("ok.sql", "-- is_active: maybe\nSELECT 1\n", 1, "is_active must be a bool"),
        ("ok.sql", "-- description: only settings\n", 2, "no query"),
    ],
)
def test_bad_files_name_the_file_and_the_line(
    tmp_path: Path, name: str, text: str, line: int | None, words: str
) -> None:
    write(tmp_path, name, text)
    with pytest.raises(EndpointFilesError) as info:
        load_endpoint_files(tmp_path)
    [error] = info.value.errors
    assert isinstance(error, EndpointFileError)
    assert error.path == str(tmp_path / name) and error.line == line
    assert words in str(error)
    assert str(error).startswith(f"{tmp_path / name}:{line}:" if line else f"{tmp_path / name}:")


def test_every_bad_file_is_listed_at_once(tmp_path: Path) -> None:
    write(tmp_path, "a.sql", "SELECT {variables.x}")
    write(tmp_path, "b.sql", "-- description: [\nSELECT 1")
    write(tmp_path, "good.sql", "SELECT 1")
    write(tmp_path, "orphan.yaml", "description: no query beside me")
    with pytest.raises(EndpointFilesError) as info:
        load_endpoint_files(tmp_path)
    assert [Path(e.path).name for e in info.value.errors] == ["a.sql", "b.sql", "orphan.yaml"]
    assert "3 endpoint file(s) refused, nothing was sent" in str(info.value)


def test_a_missing_folder_says_what_it_expected(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"one NAME\.sql per endpoint"):
        load_endpoint_files(tmp_path / "nope")
