"""The sensor as Dagster sees it, with PostHog mocked by respx: what it watches, what a tick
returns (run requests, skip reasons, cursors, asset events), and how it fails."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from endpoints_dagster.assets.factory import build_endpoint_assets
from endpoints_dagster.client.errors import PostHogEndpointsError
from endpoints_dagster.resource import PostHogEndpointsResource
from endpoints_dagster.sensors.sensor import (
    EndpointSensorError,
    build_endpoint_execution_sensor,
    build_endpoint_external_assets,
)

T1 = "2026-11-20T08:00:00.123456+00:00"
T2 = "2026-11-20T09:30:00+00:00"
T3 = "2026-11-20T10:45:00+00:00"


@dg.asset(config_schema={"endpoint": str, "executed_at": str})
def report(context) -> None:
    context.log.info(context.op_config["endpoint"])


report_job = dg.define_asset_job("report_job", selection=[report])


def test_the_sensor_needs_something_to_do():
    with pytest.raises(ValueError, match="nothing to do"):
        build_endpoint_execution_sensor(["a"])
    with pytest.raises(ValueError, match="not both"):
        build_endpoint_execution_sensor(["a"], job=report_job, target=[report.key])
    with pytest.raises(ValueError, match="asset_selection_fn"):
        build_endpoint_execution_sensor(["a"], job=report_job, asset_selection_fn=lambda e: None)
    with pytest.raises(ValueError, match="chunk_size"):
        build_endpoint_execution_sensor(["a"], job=report_job, chunk_size=0)
    with pytest.raises(ValueError, match=r"'\.\./a' is not an endpoint name"):
        build_endpoint_execution_sensor(["../a"], job=report_job)


def test_assets_without_an_endpoint_are_refused_with_their_key():
    with pytest.raises(ValueError, match="report hold no PostHog endpoint"):
        build_endpoint_execution_sensor([report], job=report_job)


def test_it_watches_every_endpoint_of_the_endpoint_assets(posthog_mock, mock_resource, tick):
    assets = build_endpoint_assets(
        ["top_events", "revenue_by_country", "daily-signups"], name="posthog_endpoints"
    )
    sensor = build_endpoint_execution_sensor(assets, target=dg.AssetSelection.assets(report))
    tick(sensor, mock_resource)
    assert posthog_mock.bodies == [["daily-signups", "revenue_by_country", "top_events"]]


def test_an_execution_gives_one_tagged_run_request_then_nothing(posthog_mock, mock_resource, tick):
    sensor = build_endpoint_execution_sensor(["a", "b"], job=report_job)
    posthog_mock.times = {"a": T1}
    baseline = tick(sensor, mock_resource)
    assert baseline.run_requests == []
    assert "Recorded a baseline for 2 endpoint(s)" in baseline.skip_reason.skip_message
    assert json.loads(baseline.cursor) == {"a": T1, "b": None}

    posthog_mock.times = {"a": T2}
    result = tick(sensor, mock_resource, baseline.cursor)
    assert [r.run_key for r in result.run_requests] == [f"a:{T2}"]
    assert result.run_requests[0].tags["posthog/endpoint"] == "a"
    assert result.run_requests[0].tags["posthog/executed_at"] == T2
    assert result.skip_reason is None

    again = tick(sensor, mock_resource, result.cursor)
    assert again.run_requests == []
    message = again.skip_reason.skip_message
    assert "No new execution of the 2 checked endpoint(s)" in message
    assert f"'a' at {T2}" in message and "1 never ran" in message
    assert len(posthog_mock.bodies) == 3  # one request per tick


def test_the_run_key_repeats_for_the_same_execution(posthog_mock, mock_resource, tick):
    """A daemon that crashed after launching but before saving its cursor asks again: same key."""
    sensor = build_endpoint_execution_sensor(["a"], job=report_job)
    posthog_mock.times = {"a": T1}
    cursor = tick(sensor, mock_resource).cursor
    posthog_mock.times = {"a": T2}
    first = tick(sensor, mock_resource, cursor)
    replay = tick(sensor, mock_resource, cursor)
    assert [r.run_key for r in first.run_requests] == [r.run_key for r in replay.run_requests] == [f"a:{T2}"]


def test_trigger_on_first_check(posthog_mock, mock_resource, tick):
    sensor = build_endpoint_execution_sensor(["a", "b"], job=report_job, trigger_on_first_check=True)
    posthog_mock.times = {"a": T1}
    result = tick(sensor, mock_resource)
    assert [r.run_key for r in result.run_requests] == [f"a:{T1}"]


def test_hooks_build_config_and_tags_and_the_config_is_valid_for_the_job(posthog_mock, mock_resource, tick):
    def run_config(execution):
        return {
            "ops": {
                "report": {"config": {"endpoint": execution.name, "executed_at": execution.executed_at_iso}}
            }
        }

    sensor = build_endpoint_execution_sensor(
        ["a"],
        job=report_job,
        run_config_fn=run_config,
        tags_fn=lambda e: {"team": "growth", "posthog/endpoint": "spoofed"},
    )
    defs = dg.Definitions(
        assets=[report], jobs=[report_job], sensors=[sensor], resources={"posthog": mock_resource}
    )
    posthog_mock.times = {"a": T1}
    cursor = tick(sensor, mock_resource, definitions=defs).cursor
    posthog_mock.times = {"a": T3}
    (request,) = tick(sensor, mock_resource, cursor, definitions=defs).run_requests
    assert request.tags["team"] == "growth"
    assert request.tags["posthog/endpoint"] == "a"  # ours win over the hook's
    job = defs.resolve_job_def("report_job")
    assert dg.validate_run_config(job, request.run_config) is not None
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(job, {"ops": {"report": {"config": {"endpoint": 1}}}})
    assert job.execute_in_process(run_config=request.run_config).success


def test_asset_selection_fn_narrows_the_target(posthog_mock, mock_resource, tick):
    other = dg.AssetSpec("other")
    sensor = build_endpoint_execution_sensor(
        ["a"], target=[report.key, other.key], asset_selection_fn=lambda e: [report.key]
    )
    posthog_mock.times = {"a": T1}
    cursor = tick(sensor, mock_resource).cursor
    posthog_mock.times = {"a": T2}
    (request,) = tick(sensor, mock_resource, cursor).run_requests
    assert request.asset_selection == [report.key]


def test_a_server_error_fails_the_tick_with_the_clients_message(posthog_mock, mock_resource, api_key):
    sensor = build_endpoint_execution_sensor(["a"], job=report_job)
    posthog_mock.times = {"a": T1}
    cursor = json.dumps({"a": T1})
    posthog_mock.status = 500
    with dg.build_sensor_context(cursor=cursor, resources={"posthog": mock_resource}) as context:
        with pytest.raises(EndpointSensorError) as caught:
            sensor(context)
        assert context.cursor == cursor
    message = str(caught.value)
    assert "PostHog failed (500)" in message and "boom" in message  # the client's own words
    assert "The cursor is unchanged" in message
    assert isinstance(caught.value.__cause__, PostHogEndpointsError)
    assert caught.value.status_code == 500
    assert api_key not in message and api_key not in repr(caught.value)


def test_an_unreachable_posthog_fails_the_tick(closed_port, tick):
    resource = PostHogEndpointsResource(
        host=f"http://127.0.0.1:{closed_port}", project_id="1", personal_api_key="phx_x", max_retries=0
    )
    sensor = build_endpoint_execution_sensor(["a"], job=report_job)
    with pytest.raises(EndpointSensorError, match=f"127.0.0.1:{closed_port}"):
        tick(sensor, resource, json.dumps({"a": T1}))


def test_a_corrupt_cursor_is_reset_to_a_baseline_with_a_warning(posthog_mock, mock_resource, tick, capfd):
    sensor = build_endpoint_execution_sensor(["a"], job=report_job)
    posthog_mock.times = {"a": T2}
    result = tick(sensor, mock_resource, "{not json")
    assert result.run_requests == []
    assert json.loads(result.cursor) == {"a": T2}
    warnings = [line for line in capfd.readouterr().err.splitlines() if " - WARNING - " in line]
    assert any("the cursor is not JSON" in w and "new baseline" in w for w in warnings)


def test_external_assets_and_observation_events(posthog_mock, mock_resource, tick):
    executions = build_endpoint_external_assets(["a", "b"])
    assert [s.key for s in executions] == [
        dg.AssetKey(["posthog", "executions", "a"]),
        dg.AssetKey(["posthog", "executions", "b"]),
    ]
    sensor = build_endpoint_execution_sensor(executions, observe=True)
    posthog_mock.times = {"a": T1}
    cursor = tick(sensor, mock_resource).cursor
    posthog_mock.times = {"a": T2, "b": T3}
    result = tick(sensor, mock_resource, cursor)
    assert result.run_requests == []
    events = {e.asset_key: e for e in result.asset_events}
    assert set(events) == {s.key for s in executions}
    assert all(isinstance(e, dg.AssetMaterialization) for e in events.values())
    assert events[executions[1].key].metadata["posthog/endpoint"].value == "b"


def test_observed_executions_make_eager_downstream_assets_run(posthog_mock, mock_resource, tick):
    executions = build_endpoint_external_assets(["a"])

    @dg.asset(deps=executions, automation_condition=dg.AutomationCondition.eager())
    def downstream() -> None: ...

    sensor = build_endpoint_execution_sensor(executions, observe=True)
    defs = dg.Definitions(
        assets=[*executions, downstream], sensors=[sensor], resources={"posthog": mock_resource}
    )
    instance = dg.DagsterInstance.ephemeral()
    posthog_mock.times = {"a": T1}
    cursor = tick(sensor, mock_resource, instance=instance).cursor
    evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert evaluation.total_requested == 0

    posthog_mock.times = {"a": T2}
    result = tick(sensor, mock_resource, cursor, instance=instance)
    for event in result.asset_events:  # what the sensor daemon does with a tick's asset events
        instance.report_runless_asset_event(event)
    evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=evaluation.cursor)
    assert evaluation.total_requested == 1
    assert evaluation.get_requested_partitions(downstream.key) == {None}


def test_observe_together_with_a_job(posthog_mock, mock_resource, tick):
    sensor = build_endpoint_execution_sensor(["a"], job=report_job, observe=True, external_key_prefix=("ph",))
    posthog_mock.times = {"a": T1}
    cursor = tick(sensor, mock_resource).cursor
    posthog_mock.times = {"a": T2}
    result = tick(sensor, mock_resource, cursor)
    assert [r.run_key for r in result.run_requests] == [f"a:{T2}"]
    assert [e.asset_key for e in result.asset_events] == [dg.AssetKey(["ph", "a"])]


def test_definitions_with_the_sensor_load(mock_resource):
    sensor = build_endpoint_execution_sensor(
        ["a"], job=report_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING
    )
    defs = dg.Definitions(
        assets=[report], jobs=[report_job], sensors=[sensor], resources={"posthog": mock_resource}
    )
    loaded = defs.resolve_sensor_def("posthog_endpoint_executions")
    assert loaded.minimum_interval_seconds == 300
    assert loaded.default_status == dg.DefaultSensorStatus.RUNNING
    assert loaded.job_name == "report_job"
