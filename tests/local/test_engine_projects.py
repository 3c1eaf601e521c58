"""Each project's database: its own ``events`` view and materialized tables, and the move of
tables an older build kept in one shared ``materialized`` database."""

from __future__ import annotations

from pathlib import Path

import pytest

from endpoints_dagster.local.engine.clickhouse import Engine, EngineQueryError


def test_projects_have_their_own_tables_and_the_same_events(tmp_path: Path) -> None:
    with Engine(tmp_path, events=500) as engine:
        assert engine.run("SELECT count() AS n FROM events", project_id=1).rows == [[500]]
        assert engine.run("SELECT count() AS n FROM events", project_id=2).rows == [[500]]
        engine.materialize("mat_p1_a_v1", "SELECT 'one' AS who", {}, project_id=1)
        assert engine.run_materialized("mat_p1_a_v1", limit=None, project_id=1).rows == [["one"]]
        with pytest.raises(EngineQueryError):
            engine.run_materialized("mat_p1_a_v1", limit=None, project_id=2)
        assert engine.materialized_tables() == ["mat_p1_a_v1"]


def test_tables_of_an_older_build_move_to_their_projects_database(tmp_path: Path) -> None:
    with Engine(tmp_path, events=200) as engine:
        engine.query_raw("CREATE DATABASE materialized")
        engine.query_raw(
            "CREATE TABLE materialized.mat_p7_old_v1 ENGINE = MergeTree ORDER BY __endpoints_row "
            "AS SELECT toUInt64(1) AS __endpoints_row, 'kept' AS v"
        )
    with Engine(tmp_path, events=200) as engine:
        assert engine.run_materialized("mat_p7_old_v1", limit=None, project_id=7).rows == [["kept"]]
        assert engine.materialized_tables() == ["mat_p7_old_v1"]
