"""PostHogEndpointsComponent loaded from YAML in a Dagster sandbox, with PostHog mocked by respx.

The integration with the real local server is in test_component_local.py; here each YAML
feature is checked on its own, fast.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import dagster as dg
import httpx
import pytest
import respx
from component_helpers import demo_state
from dagster.components.testing import create_defs_folder_sandbox

from endpoints_dagster.components import EndpointSkippedWarning, PostHogEndpointsComponent
from endpoints_dagster.discovery.state import EndpointsState

HOST = "http://127.0.0.1:9"
KEY = "phx_component_test_key_0123456789"
TYPE = "endpoints_dagster.components.PostHogEndpointsComponent"
LIST_URL = f"{HOST}/api/projects/1/endpoints/"

DAILY_OVERRIDE = {
    "partitions": {"type": "daily", "start_date": "2026-01-01"},
    "variables": {"since": "{{ partition.start }}", "until": "{{ partition.end }}"},
}


@pytest.fixture(autouse=True)
def posthog_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_POSTHOG_HOST", HOST)
    monkeypatch.setenv("TEST_POSTHOG_PROJECT_ID", "1")
    monkeypatch.setenv("TEST_POSTHOG_KEY", KEY)


@pytest.fixture
def posthog_api() -> Iterator[respx.MockRouter]:
    """A mocked PostHog whose list route answers the demo project; any other request fails."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        body = {"results": [_api_dict(e) for e in demo_state().endpoints]}
        router.get(LIST_URL).mock(return_value=httpx.Response(200, json=body))
        yield router


def _api_dict(endpoint) -> dict[str, Any]:
    variables = {
        f"uuid-{v.code_name}": {
            "variableId": f"uuid-{v.code_name}",
            "code_name": v.code_name,
            "value": v.value,
        }
        for v in endpoint.variables
    }
    return {
        "id": f"id-{endpoint.name}",
        "name": endpoint.name,
        "description": endpoint.description or "",
        "query": {"kind": "HogQLQuery", "query": endpoint.hogql, "variables": variables or None},
        "is_active": endpoint.is_active,
        "current_version": endpoint.current_version,
        "ui_url": endpoint.ui_url,
        "unknown_future_key": {"ignored": True},
    }


def body(**attributes: Any) -> dict[str, Any]:
    connection = {
        "host": "{{ env.TEST_POSTHOG_HOST }}",
        "project_id": "{{ env.TEST_POSTHOG_PROJECT_ID }}",
        "personal_api_key": "{{ env.TEST_POSTHOG_KEY }}",
    }
    return {"type": TYPE, "attributes": {"connection": connection, **attributes}}


@contextmanager
def loaded(sandbox, defs_path: Path) -> Iterator[tuple[PostHogEndpointsComponent, dg.Definitions, list[str]]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with sandbox.load_component_and_build_defs(defs_path=defs_path) as (component, defs):
            assert isinstance(component, PostHogEndpointsComponent)
            yield (
                component,
                defs,
                [str(w.message) for w in caught if issubclass(w.category, EndpointSkippedWarning)],
            )


def refresh(sandbox, defs_path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EndpointSkippedWarning)  # "no state yet", expected here
        with sandbox.load_component_and_build_defs(defs_path=defs_path) as (component, _):
            asyncio.run(component.refresh_state(sandbox.project_root))
    return state_file(sandbox)


def state_file(sandbox) -> Path:
    files = list(sandbox.project_root.rglob(".local_defs_state/*/state"))
    assert len(files) == 1, files
    return files[0]


def keys(defs: dg.Definitions) -> set[str]:
    return {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}


def asset_spec(defs: dg.Definitions, key: str) -> dg.AssetSpec:
    asset_key = dg.AssetKey.from_user_string(key)
    return defs.resolve_assets_def(asset_key).specs_by_key[asset_key]


@contextmanager
def sandbox_with(attributes: dict[str, Any], refreshed: bool = True, api: Optional[respx.MockRouter] = None):
    with create_defs_folder_sandbox() as sandbox:
        defs_path = sandbox.scaffold_component(
            PostHogEndpointsComponent, defs_yaml_contents=body(**attributes)
        )
        if refreshed:
            refresh(sandbox, defs_path)
        yield sandbox, defs_path


# -- state lifecycle ------------------------------------------------------------------------------


def test_no_state_yet_loads_empty_and_names_the_command():
    with sandbox_with({}, refreshed=False) as (sandbox, defs_path):
        with loaded(sandbox, defs_path) as (_, defs, warned):
            assert keys(defs) == set()
        assert len(warned) == 1
        assert "dg utils refresh-defs-state" in warned[0]
        assert "PostHogEndpointsComponent[project_1]" in warned[0]


def test_refresh_writes_the_whole_list_and_loading_makes_no_request(posthog_api):
    with sandbox_with({}) as (sandbox, defs_path):
        assert posthog_api.calls.call_count == 1
        request = posthog_api.calls.last.request
        assert request.headers["authorization"] == f"Bearer {KEY}"
        saved = json.loads(state_file(sandbox).read_text())
        assert [e["name"] for e in saved["endpoints"]] == [
            "daily_signups",
            "retired_report",
            "revenue_by_country",
            "top_events",
        ]
        assert KEY not in state_file(sandbox).read_text()

        with loaded(sandbox, defs_path) as (_, defs, warned):
            assert keys(defs) == {"posthog/daily_signups", "posthog/revenue_by_country", "posthog/top_events"}
            defs.resolve_all_job_defs()
        assert warned == []
        assert posthog_api.calls.call_count == 1  # loading did not call PostHog


def test_a_broken_endpoint_in_state_is_skipped_with_a_warning_naming_it(posthog_api):
    with sandbox_with({}) as (sandbox, defs_path):
        path = state_file(sandbox)
        saved = json.loads(path.read_text())
        saved["endpoints"].append({**saved["endpoints"][0], "name": "broken endpoint!"})
        saved["endpoints"].append({"name": "half_written", "variables": 7})
        path.write_text(json.dumps(saved))
        with loaded(sandbox, defs_path) as (_, defs, warned):
            assert keys(defs) == {"posthog/daily_signups", "posthog/revenue_by_country", "posthog/top_events"}
        assert len(warned) == 2
        assert any("'broken endpoint!'" in w and "invalid endpoint name" in w for w in warned)
        assert any("'half_written'" in w and "`variables`" in w for w in warned)


def test_corrupt_state_warns_and_defines_nothing(posthog_api):
    with sandbox_with({}) as (sandbox, defs_path):
        state_file(sandbox).write_text("{truncated")
        with loaded(sandbox, defs_path) as (_, defs, warned):
            assert keys(defs) == set()
        assert "not valid JSON" in warned[0] and "refresh-defs-state" in warned[0]


def test_state_of_another_project_is_not_used(posthog_api, monkeypatch):
    with sandbox_with({"defs_state": {"management_type": "LOCAL_FILESYSTEM", "key": "shared"}}) as (
        sandbox,
        defs_path,
    ):
        monkeypatch.setenv("TEST_POSTHOG_PROJECT_ID", "2")
        with loaded(sandbox, defs_path) as (_, defs, warned):
            assert keys(defs) == set()
        assert "project 1" in warned[0] and "project 2" in warned[0]


# -- connection ------------------------------------------------------------------------------------


def load_error(attributes: Optional[dict[str, Any]] = None) -> str:
    """The messages of the load failure, the causes Dagster wraps included."""
    with create_defs_folder_sandbox() as sandbox:
        defs_path = sandbox.scaffold_component(
            PostHogEndpointsComponent, defs_yaml_contents=body(**(attributes or {}))
        )
        with pytest.raises(Exception) as info:
            with sandbox.load_component_and_build_defs(defs_path=defs_path):
                pass
    messages, error = [], info.value
    while error is not None:
        messages.append(str(error))
        error = error.__cause__ or error.__context__
    return "\n".join(messages)


def test_a_missing_env_var_is_an_error_naming_it(monkeypatch):
    monkeypatch.delenv("TEST_POSTHOG_KEY")
    message = load_error()
    assert "connection.personal_api_key: environment variable TEST_POSTHOG_KEY is not set" in message


def test_an_empty_env_var_is_not_silently_used(monkeypatch):
    monkeypatch.setenv("TEST_POSTHOG_PROJECT_ID", "")
    assert "environment variable TEST_POSTHOG_PROJECT_ID is not set" in load_error()


def test_connection_problems_never_show_the_key(monkeypatch):
    monkeypatch.setenv("TEST_POSTHOG_PROJECT_ID", "not-a-number")
    message = load_error()
    assert "project_id must be a PostHog project id" in message
    assert KEY not in message


def test_the_component_provides_its_resource_without_showing_the_key(posthog_api):
    with sandbox_with({}) as (sandbox, defs_path):
        with loaded(sandbox, defs_path) as (component, defs, _):
            resource = defs.resources["posthog"]
            assert resource.host == HOST and resource.project_id == "1"
            assert KEY not in repr(resource) and KEY not in repr(component)


def test_provide_resource_false_leaves_the_resource_to_definitions(posthog_api):
    with sandbox_with({"provide_resource": False, "resource_key": "ph"}) as (sandbox, defs_path):
        with loaded(sandbox, defs_path) as (_, defs, _):
            assert not defs.resources
            assert {key for a in defs.assets for key in a.required_resource_keys} == {"ph", "io_manager"}


# -- YAML features ---------------------------------------------------------------------------------


def test_description_shows_hogql_and_metadata_lists_saved_defaults(posthog_api):
    with sandbox_with({}) as (sandbox, defs_path):
        with loaded(sandbox, defs_path) as (_, defs, _):
            spec = asset_spec(defs, "posthog/daily_signups")
    assert spec.description.startswith("Signups per day.")
    assert "```sql\nSELECT toDate(timestamp) AS day" in spec.description
    assert spec.metadata["posthog/saved_variables"].data == {"since": "2026-01-01", "until": "2026-02-01"}
    assert spec.metadata["posthog/current_version"] == 2
    assert spec.group_name == "posthog"


def test_selection_defaults_and_overrides(posthog_api):
    attributes = {
        "selection": {"include": ["*"], "exclude": ["top_*"], "include_inactive": True},
        "defaults": {
            "group": "analytics",
            "key_prefix": "ph/raw",
            "refresh": "blocking",
            "pool": "posthog_api",
        },
        "endpoints": {
            "daily_signups": DAILY_OVERRIDE,
            "revenue_by_country": {
                "partitions": {"type": "static", "keys": ["free", "pro"]},
                "variables": {"plan": "{{ partition.key }}"},
                "key": "finance/revenue",
                "group": "finance",
                "description": "Revenue, per plan.",
                "refresh": "force_blocking",
            },
            "retired_report": {"version": 1, "materialize": True},
        },
    }
    with sandbox_with(attributes) as (sandbox, defs_path):
        with loaded(sandbox, defs_path) as (_, defs, warned):
            assert keys(defs) == {"ph/raw/daily_signups", "finance/revenue", "ph/raw/retired_report"}
            daily = asset_spec(defs, "ph/raw/daily_signups")
            revenue = asset_spec(defs, "finance/revenue")
            retired = asset_spec(defs, "ph/raw/retired_report")
            assert defs.resolve_assets_def(dg.AssetKey(["finance", "revenue"])).op.pools == {"posthog_api"}
    assert warned == []
    assert isinstance(daily.partitions_def, dg.DailyPartitionsDefinition)
    assert daily.metadata["posthog/partition_variables"].data["start"] == "since"
    assert daily.metadata["posthog/refresh"] == "blocking"
    assert daily.group_name == "analytics"
    assert revenue.partitions_def.get_partition_keys() == ["free", "pro"]
    assert revenue.description.startswith("Revenue, per plan.")
    assert revenue.group_name == "finance"
    assert revenue.metadata["posthog/refresh"] == "force_blocking"
    assert retired.metadata["posthog/pinned_version"] == 1
    assert retired.metadata["posthog/materialize"] is True and "posthog/materialize" not in daily.metadata


def test_an_override_naming_a_missing_variable_skips_that_endpoint(posthog_api):
    attributes = {"endpoints": {"daily_signups": {"variables": {"since_day": "2026-01-01"}}, "nothing_*": {}}}
    with sandbox_with(attributes) as (sandbox, defs_path):
        with loaded(sandbox, defs_path) as (_, defs, warned):
            assert keys(defs) == {"posthog/revenue_by_country", "posthog/top_events"}
    assert any("'daily_signups'" in w and "since_day" in w and "since, until" in w for w in warned)
    assert any("endpoints.nothing_*" in w for w in warned)


def test_partitions_from_a_dagster_template(posthog_api):
    attributes = {
        "endpoints": {
            "daily_signups": {
                "partitions": "{{ dg.WeeklyPartitionsDefinition(start_date='2026-01-05') }}",
                "variables": {"since": "{{ partition.start }}", "until": "{{ partition.end }}"},
            }
        }
    }
    with sandbox_with(attributes) as (sandbox, defs_path):
        with loaded(sandbox, defs_path) as (_, defs, _):
            spec = asset_spec(defs, "posthog/daily_signups")
    assert isinstance(spec.partitions_def, dg.WeeklyPartitionsDefinition)


def test_bad_partitions_block_is_an_error_naming_the_endpoint(posthog_api):
    message = load_error({"endpoints": {"daily_signups": {"partitions": {"type": "monthly"}}}})
    assert "endpoints.daily_signups.partitions: monthly partitions need `start_date`" in message


def test_translation_block_sees_the_endpoint(posthog_api):
    attributes = {
        "translation": {
            "owners": ["team:growth"],
            "tags": {"version": "{{ endpoint.current_version }}"},
            "key_prefix": "warehouse",
            "kinds": ["duckdb"],
        }
    }
    with sandbox_with(attributes) as (sandbox, defs_path):
        with loaded(sandbox, defs_path) as (_, defs, _):
            spec = asset_spec(defs, "warehouse/posthog/daily_signups")
    assert spec.owners == ["team:growth"]
    assert spec.tags["version"] == "2"
    assert spec.kinds == {"duckdb"}  # Dagster's rule: a translated `kinds` replaces the list


def test_a_translation_that_clashes_keys_skips_the_later_endpoint(posthog_api):
    attributes = {"translation": {"key": "posthog/everything"}}
    with sandbox_with(attributes) as (sandbox, defs_path):
        with loaded(sandbox, defs_path) as (_, defs, warned):
            assert keys(defs) == {"posthog/everything"}
    assert sum("already used by endpoint 'daily_signups'" in w for w in warned) == 2


def test_sensor_block_watches_unpartitioned_endpoints(posthog_api):
    attributes = {
        "endpoints": {"daily_signups": DAILY_OVERRIDE},
        "sensor": {"name": "posthog_runs", "minimum_interval_seconds": 120, "default_status": "running"},
    }
    with sandbox_with(attributes) as (sandbox, defs_path):
        with loaded(sandbox, defs_path) as (_, defs, warned):
            sensor = defs.resolve_sensor_def("posthog_runs")
            assert sensor.minimum_interval_seconds == 120
            assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
            assert "posthog" in sensor.required_resource_keys
            targeted = sensor.job.selection.resolve(defs.resolve_asset_graph())
    assert targeted == {
        dg.AssetKey(["posthog", "revenue_by_country"]),
        dg.AssetKey(["posthog", "top_events"]),
    }
    assert any("'daily_signups' is partitioned" in w for w in warned)


# -- scaffolder ------------------------------------------------------------------------------------


def test_scaffolded_yaml_loads_and_documents_every_block(posthog_api, monkeypatch):
    monkeypatch.setenv("POSTHOG_HOST", HOST)
    monkeypatch.setenv("MY_PH_KEY", KEY)
    with create_defs_folder_sandbox() as sandbox:
        defs_path = sandbox.scaffold_component(
            PostHogEndpointsComponent, scaffold_params={"project_id": "1", "api_key_env": "MY_PH_KEY"}
        )
        text = (defs_path / "defs.yaml").read_text()
        for block in ("connection:", "selection:", "defaults:", "endpoints:", "translation:", "sensor:"):
            assert block in text
        assert '"{{ env.MY_PH_KEY }}"' in text and KEY not in text
        assert "type: endpoints_dagster.components.component.PostHogEndpointsComponent" in text
        for common in ("# provide_resource: false", "# resource_key: posthog", "# include_inactive: false"):
            assert common in text
        refresh(sandbox, defs_path)
        with loaded(sandbox, defs_path) as (_, defs, _):
            assert "posthog/top_events" in keys(defs)
            assert "posthog" in (defs.resources or {})
        # Uncommented as the comment says, the component uses the project's own resource.
        (defs_path / "defs.yaml").write_text(text.replace("# provide_resource:", "provide_resource:"))
        with loaded(sandbox, defs_path) as (component, defs, _):
            assert component.provide_resource is False
            assert not defs.resources
            assert any(
                a.key.to_user_string() == "posthog/top_events" for a in defs.assets or [] for a in a.specs
            )


def test_state_read_by_the_python_equivalent_matches(posthog_api):
    from endpoints_dagster.discovery.load import load_endpoint_specs

    with sandbox_with({}) as (sandbox, _defs_path):
        specs = load_endpoint_specs(state_file(sandbox))
        assert [s.name for s in specs] == ["daily_signups", "revenue_by_country", "top_events"]
        assert EndpointsState.read(state_file(sandbox)).project_id == "1"


def test_defaults_keep_state_local_and_never_refresh_on_load():
    with sandbox_with({}, refreshed=False) as (sandbox, defs_path):
        with loaded(sandbox, defs_path) as (component, _, _):
            config = component.defs_state_config
    assert config.management_type.value == "LOCAL_FILESYSTEM"
    assert config.refresh_if_dev is False  # `dagster dev` does not call PostHog unless asked
    assert config.key == "PostHogEndpointsComponent[project_1]"


def test_a_refused_refresh_raises_the_clients_error_without_the_key():
    from endpoints_dagster.client.errors import AuthenticationError

    with respx.mock(assert_all_mocked=True) as router:
        router.get(LIST_URL).mock(
            return_value=httpx.Response(
                401, json={"type": "authentication_error", "code": "x", "detail": "Invalid key", "attr": None}
            )
        )
        with create_defs_folder_sandbox() as sandbox:
            defs_path = sandbox.scaffold_component(PostHogEndpointsComponent, defs_yaml_contents=body())
            with pytest.raises(AuthenticationError) as info:
                refresh(sandbox, defs_path)
            assert not list(sandbox.project_root.rglob(".local_defs_state/*/state"))
    assert KEY not in str(info.value)


def test_a_failed_refresh_keeps_the_previous_state(posthog_api):
    from endpoints_dagster.client.errors import ServerError

    with create_defs_folder_sandbox() as sandbox:
        contents = body()
        contents["attributes"]["connection"]["max_retries"] = 0
        defs_path = sandbox.scaffold_component(PostHogEndpointsComponent, defs_yaml_contents=contents)
        refresh(sandbox, defs_path)
        before = state_file(sandbox).read_text()
        posthog_api.get(LIST_URL).mock(
            return_value=httpx.Response(503, json={"type": "server_error", "detail": "down"})
        )
        with pytest.raises(ServerError):
            refresh(sandbox, defs_path)
        assert posthog_api.calls.call_count == 2
        assert state_file(sandbox).read_text() == before
        with loaded(sandbox, defs_path) as (_, defs, _):
            assert "posthog/top_events" in keys(defs)


def test_sensor_block_can_watch_some_endpoints(posthog_api):
    attributes = {"sensor": {"endpoints": ["top_*"]}}
    with sandbox_with(attributes) as (sandbox, defs_path):
        with loaded(sandbox, defs_path) as (_, defs, _):
            sensor = defs.resolve_sensor_def("posthog_endpoint_executions_posthog")
            targeted = sensor.job.selection.resolve(defs.resolve_asset_graph())
    assert targeted == {dg.AssetKey(["posthog", "top_events"])}
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED


def test_sensor_block_launches_the_executed_endpoints_asset(posthog_api):
    times = iter(["2026-11-20T08:00:00+00:00", "2026-11-20T09:30:00+00:00"])

    def answer(request: httpx.Request) -> httpx.Response:
        names = json.loads(request.content)["names"]
        rows = [["top_events", next(times)]] if "top_events" in names else []
        return httpx.Response(
            200, json={"query_status": {"id": "", "complete": True, "error": False, "results": rows}}
        )

    posthog_api.post(f"{LIST_URL}last_execution_times/").mock(side_effect=answer)
    with sandbox_with({"sensor": {"name": "ph"}}) as (sandbox, defs_path):
        with loaded(sandbox, defs_path) as (_, defs, _):
            sensor = defs.resolve_sensor_def("ph")
            resource = defs.resources["posthog"]
    with dg.build_sensor_context(resources={"posthog": resource}) as context:
        first = sensor(context)
    assert not first.run_requests  # the first check only records a baseline
    with dg.build_sensor_context(cursor=first.cursor, resources={"posthog": resource}) as context:
        second = sensor(context)
    assert [r.asset_selection for r in second.run_requests] == [[dg.AssetKey(["posthog", "top_events"])]]
    assert second.run_requests[0].tags["posthog/endpoint"] == "top_events"


def test_every_resource_setting_can_be_set_in_yaml():
    from endpoints_dagster.components.model import ConnectionArgs
    from endpoints_dagster.resource import PostHogEndpointsResource

    assert set(ConnectionArgs.model_fields) == set(PostHogEndpointsResource.model_fields)


def test_connection_knobs_reach_the_resource(posthog_api):
    contents = body()
    contents["attributes"]["connection"].update(
        {"run_timeout": "{{ env.TEST_RUN_TIMEOUT }}", "api_dialect": "current"}
    )
    with create_defs_folder_sandbox() as sandbox, pytest.MonkeyPatch.context() as mp:
        mp.setenv("TEST_RUN_TIMEOUT", "90")
        defs_path = sandbox.scaffold_component(PostHogEndpointsComponent, defs_yaml_contents=contents)
        with loaded(sandbox, defs_path) as (component, _, _):
            assert component.connection.run_timeout == 90.0
            assert component.connection.api_dialect == "current"


def test_a_sensor_entry_matching_no_endpoint_warns_with_a_close_name(posthog_api):
    attributes = {"sensor": {"endpoints": ["top_event", "revenue_*"]}}
    with sandbox_with(attributes) as (sandbox, defs_path):
        with loaded(sandbox, defs_path) as (_, _, warned):
            pass
    [warning] = [w for w in warned if "`sensor.endpoints`" in w]
    assert "'top_event' matches no endpoint" in warning and "Did you mean 'top_events'?" in warning


def test_an_endpoint_can_backfill_one_run_per_partition(posthog_api):
    attributes = {"endpoints": {"daily_signups": {**DAILY_OVERRIDE, "backfill": "multi_run"}}}
    with sandbox_with(attributes) as (sandbox, defs_path):
        with loaded(sandbox, defs_path) as (_, defs, _):
            daily = defs.resolve_assets_def(dg.AssetKey(["posthog", "daily_signups"]))
    assert daily.backfill_policy == dg.BackfillPolicy.multi_run(1)
