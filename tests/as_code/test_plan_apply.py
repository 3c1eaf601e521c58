"""plan / apply / export against the local server, in both dialects, through the command line.

Exit codes: plan 0 = no changes, 2 = changes, 1 = error; apply 0 = done, 1 = error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from endpoints_dagster import EndpointNotFoundError, EndpointsClient
from endpoints_dagster.as_code import load_endpoint_files, project_key
from endpoints_dagster.local.process import LocalServer

pytestmark = pytest.mark.integration

Cli = Callable[..., tuple[int, str, str]]
Write = Callable[[str, str], Path]

SIGNUPS = """\
-- description: Signups per day since a date.
-- variables:
--   since: {type: Date, default: "2026-01-01"}
-- cache_age_seconds: 3600

SELECT toDate(timestamp) AS day, count() AS signups
FROM events
WHERE event = 'signup' AND timestamp >= {variables.since}
GROUP BY day
ORDER BY day
"""


@pytest.fixture
def local_server(any_dialect_server: LocalServer) -> LocalServer:
    return any_dialect_server


def test_create_then_nothing_to_do(
    cli: Cli, write: Write, folder: Path, prefix: str, as_code_client: EndpointsClient
) -> None:
    name = f"{prefix}signups"
    write(name, SIGNUPS)
    code, out, _ = cli("plan", folder)
    assert code == 2 and f"+ create {name}" in out and "1 to create" in out

    code, out, _ = cli("apply", folder)
    assert code == 0 and f"created {name} (version 1)" in out
    endpoint = as_code_client.get_endpoint(name)
    assert endpoint.current_version == 1 and endpoint.cache_age_seconds == 3600
    assert endpoint.description == "Signups per day since a date."
    assert {v.code_name: v.value for v in endpoint.variables} == {"since": "2026-01-01"}
    lock = json.loads((folder / "endpoints.lock.json").read_text())
    section = lock["projects"][project_key(as_code_client.host, as_code_client.project_id)]
    assert section[name]["version"] == 1

    code, out, _ = cli("plan", folder)
    assert code == 0 and "No changes." in out
    code, out, _ = cli("apply", folder)
    assert code == 0 and "Nothing to apply." in out
    assert as_code_client.get_endpoint(name).current_version == 1


def test_a_changed_query_shows_a_diff_and_makes_one_new_version(
    cli: Cli, write: Write, folder: Path, prefix: str, as_code_client: EndpointsClient
) -> None:
    name = f"{prefix}signups"
    write(name, SIGNUPS)
    assert cli("apply", folder)[0] == 0
    write(name, SIGNUPS.replace("ORDER BY day", "ORDER BY day DESC").replace("2026-01-01", "2026-02-01"))

    code, out, _ = cli("plan", folder)
    assert code == 2
    assert f"~ update {name}" in out and "query changes, creates version 2" in out
    assert "-ORDER BY day\n" in out and "+ORDER BY day DESC" in out
    assert "variable since: default '2026-01-01' -> '2026-02-01'" in out

    assert cli("apply", folder)[0] == 0
    endpoint = as_code_client.get_endpoint(name)
    assert endpoint.current_version == 2 and endpoint.hogql is not None and endpoint.hogql.endswith("DESC")
    assert {v.code_name: v.value for v in endpoint.variables} == {"since": "2026-02-01"}
    code, out, _ = cli("apply", folder)  # idempotent
    assert code == 0 and "Nothing to apply." in out
    assert as_code_client.get_endpoint(name).current_version == 2


def test_a_settings_change_makes_no_new_version(
    cli: Cli, write: Write, folder: Path, prefix: str, as_code_client: EndpointsClient
) -> None:
    name = f"{prefix}signups"
    write(name, SIGNUPS)
    assert cli("apply", folder)[0] == 0
    write(name, SIGNUPS.replace("3600", "900").replace("since a date.", "since a date, for growth."))
    code, out, _ = cli("plan", folder)
    assert code == 2 and "settings change (no new version)" in out and "cache_age_seconds: 3600 -> 900" in out
    assert cli("apply", folder)[0] == 0
    endpoint = as_code_client.get_endpoint(name)
    assert (endpoint.current_version, endpoint.cache_age_seconds) == (1, 900)
    assert endpoint.description == "Signups per day since a date, for growth."


def test_drift_stops_apply_until_overwritten(
    cli: Cli, write: Write, folder: Path, prefix: str, as_code_client: EndpointsClient
) -> None:
    name = f"{prefix}signups"
    write(name, SIGNUPS)
    assert cli("apply", folder)[0] == 0
    changed_in_posthog = as_code_client.get_endpoint(name).query | {"query": "SELECT 42 AS answer"}
    as_code_client.update_endpoint(name, query=changed_in_posthog)  # version 2, made in PostHog

    code, out, _ = cli("plan", folder)
    assert code == 2
    assert "drift: PostHog is at version 2, the folder last deployed version 1" in out
    assert "-SELECT 42 AS answer" in out  # the diff shows what applying would undo

    code, out, err = cli("apply", folder)
    assert code == 1 and "Nothing applied" in err and name in err and "--overwrite-drift" in err
    assert as_code_client.get_endpoint(name).hogql == "SELECT 42 AS answer"

    code, out, _ = cli("apply", folder, "--overwrite-drift")
    assert code == 0 and f"updated {name} (version 3, new version)" in out
    assert cli("plan", folder)[0] == 0


def test_a_removed_file_deletes_only_with_prune_and_unmanaged_endpoints_are_left_alone(
    cli: Cli, write: Write, folder: Path, prefix: str, as_code_client: EndpointsClient
) -> None:
    keep, gone = f"{prefix}keep", f"{prefix}gone"
    write(keep, "SELECT 1 AS one")
    write(gone, "SELECT 2 AS two")
    assert cli("apply", folder)[0] == 0
    as_code_client.create_endpoint(f"{prefix}by_hand", "SELECT 3 AS three")
    (folder / f"{gone}.sql").unlink()

    code, out, _ = cli("plan", folder)
    assert code == 0 and f"removed {gone}" in out and "apply --prune deletes it" in out
    assert cli("apply", folder)[0] == 0
    assert as_code_client.get_endpoint(gone).name == gone

    code, out, _ = cli("plan", folder, "--prune")
    assert code == 2 and f"- delete {gone}" in out and f"{prefix}by_hand" in out
    code, out, _ = cli("apply", folder, "--prune")
    assert code == 0 and f"deleted {gone}" in out
    with pytest.raises(EndpointNotFoundError):
        as_code_client.get_endpoint(gone)
    assert (
        as_code_client.get_endpoint(f"{prefix}by_hand").name == f"{prefix}by_hand"
    )  # never deployed from here
    assert as_code_client.get_endpoint(keep).current_version == 1
    assert cli("plan", folder, "--prune")[0] == 0


def test_export_then_plan_shows_no_changes(
    cli: Cli, folder: Path, prefix: str, as_code_client: EndpointsClient
) -> None:
    as_code_client.create_endpoint(
        f"{prefix}exported",
        {
            "kind": "HogQLQuery",
            "query": "SELECT event, count() AS n FROM events WHERE count() > {variables.n}",
            "variables": {
                "8c1f1b8e-3a43-4c7a-9b53-1f0f4f1b2c01": {
                    "variableId": "8c1f1b8e-3a43-4c7a-9b53-1f0f4f1b2c01",
                    "code_name": "n",
                    "value": 5,
                }
            },
        },
        description="Exported: events seen more than n times",
        cache_age_seconds=3600,
    )
    code, out, _ = cli("export", folder)
    assert code == 0 and f"wrote {folder / (prefix + 'exported.sql')}" in out
    text = (folder / f"{prefix}exported.sql").read_text()
    assert text.startswith("-- description: 'Exported: events seen more than n times'\n-- variables:\n")
    assert "--   n: {type: Number, default: 5}" in text
    names = {file.name for file in load_endpoint_files(folder)}
    assert {"daily_signups", "top_events", f"{prefix}exported"} <= names  # the whole project

    code, out, _ = cli("plan", folder, "--prune")
    assert code == 0, out
    assert "No changes." in out and "unmanaged" not in out


def test_bad_files_are_refused_before_anything_is_sent(
    cli: Cli, write: Write, folder: Path, prefix: str, local_server: LocalServer
) -> None:
    write(f"{prefix}fine", "SELECT 1")
    write(f"{prefix}undeclared", "-- description: x\n\nSELECT {variables.since}")
    control = local_server.control
    before = sum(control.stats()["requests"].values())
    code, out, err = cli("apply", folder)
    assert code == 1 and out == ""
    assert f"{folder / (prefix + 'undeclared.sql')}:3: the query uses {{variables.since}}" in err
    assert sum(control.stats()["requests"].values()) == before + 1  # only the stats read itself


def test_a_missing_key_is_an_error_naming_the_variable(
    cli: Cli, write: Write, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("anything", "SELECT 1")
    monkeypatch.delenv("POSTHOG_PERSONAL_API_KEY")
    code, _, err = cli("plan", folder)
    assert code == 1 and "set POSTHOG_PERSONAL_API_KEY" in err
