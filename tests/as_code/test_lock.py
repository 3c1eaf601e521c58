"""The lock file: per project, sorted for review, and a broken one says how to recover."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from endpoints_dagster.as_code import Deployed, Lock, parse_endpoint_file, project_key
from endpoints_dagster.as_code.plan import compare
from endpoints_dagster.client.models import Endpoint


def test_sections_per_project_survive_a_round_trip(tmp_path: Path) -> None:
    lock = Lock.for_folder(tmp_path)
    staging, production = project_key("https://eu.posthog.com/", 1), project_key("https://eu.posthog.com", 2)
    lock.record(production, "b", Deployed(3, "x"))
    lock.record(production, "a", Deployed(1, "y"))
    lock.record(staging, "a", Deployed(7, "z"))
    lock.save()
    data = json.loads((tmp_path / "endpoints.lock.json").read_text())
    assert list(data["projects"]) == ["https://eu.posthog.com/project/1", "https://eu.posthog.com/project/2"]
    assert list(data["projects"][production]) == ["a", "b"]
    again = Lock.for_folder(tmp_path)
    assert again.deployed(production) == {"a": Deployed(1, "y"), "b": Deployed(3, "x")}
    again.record(production, "a", None)
    assert again.deployed(production) == {"b": Deployed(3, "x")}


def test_a_broken_lock_names_itself_and_the_way_out(tmp_path: Path) -> None:
    (tmp_path / "endpoints.lock.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"endpoints\.lock\.json: not a lock file .* Restore it from git"):
        Lock.for_folder(tmp_path)


def test_drift_with_the_files_content_blocks_nothing(tmp_path: Path) -> None:
    path = tmp_path / "n.sql"
    path.write_text("SELECT 1 AS one\n")
    file = parse_endpoint_file(path)
    remote = Endpoint("n", current_version=4, query={"kind": "HogQLQuery", "query": "SELECT 1 AS one"})
    same = compare(file, remote, Deployed(3, file.code_version))
    assert same.drift and not same.blocking_drift and not same.is_change
    assert "same content: nothing to do" in same.render()
    changed = compare(
        file,
        Endpoint("n", current_version=4, query={"kind": "HogQLQuery", "query": "SELECT 2"}),
        Deployed(3, file.code_version),
    )
    assert changed.blocking_drift and "apply stops unless --overwrite-drift" in changed.render()
