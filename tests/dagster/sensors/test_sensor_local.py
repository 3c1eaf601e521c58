"""The sensor against the local PostHog Endpoints server over real sockets: endpoints executed
outside Dagster (through the API with the key, as a dashboard would) launch runs exactly once,
requests are counted on the server, and failures leave the cursor as it was.

The tests on the shared servers run against both API dialects (``local_server`` is overridden
with ``any_dialect_server``). On the current one (PostHog today) a last execution time moves at
most every 30 minutes; tests that need exact times set the granularity knob to 0."""

from __future__ import annotations

import json
import math

import dagster as dg
import pytest

from endpoints_dagster.assets.factory import build_endpoint_assets
from endpoints_dagster.resource import PostHogEndpointsResource
from endpoints_dagster.sensors.sensor import EndpointSensorError, build_endpoint_execution_sensor

pytestmark = pytest.mark.integration


@pytest.fixture
def local_server(any_dialect_server):
    return any_dialect_server


LAST_EXECUTION_ROUTE = "POST /api/projects/{project_id}/endpoints/last_execution_times/"


@dg.asset(config_schema={"endpoint": str, "executed_at": str})
def endpoint_report(context) -> str:
    return f"{context.op_config['endpoint']} at {context.op_config['executed_at']}"


report_job = dg.define_asset_job("endpoint_report_job", selection=[endpoint_report])


def run_config(execution):
    return {
        "ops": {
            "endpoint_report": {
                "config": {"endpoint": execution.name, "executed_at": execution.executed_at_iso}
            }
        }
    }


def execute(client, name):
    """Run the endpoint outside Dagster, computing (a cache hit is not an execution in PostHog)."""
    client.run_endpoint(name, refresh="force_blocking")
    return client.last_execution_times([name])[name]


def test_an_external_run_launches_exactly_one_run(make_endpoints, server_client, server_resource, tick):
    (name,) = make_endpoints(1)
    sensor = build_endpoint_execution_sensor([name], job=report_job, run_config_fn=run_config)
    baseline = tick(sensor, server_resource)
    assert baseline.run_requests == [] and json.loads(baseline.cursor) == {name: None}

    executed_at = execute(server_client, name)
    result = tick(sensor, server_resource, baseline.cursor)
    (request,) = result.run_requests
    assert request.run_key == f"{name}:{executed_at.isoformat()}"
    assert request.tags["posthog/endpoint"] == name
    assert request.tags["posthog/executed_at"] == executed_at.isoformat()

    again = tick(sensor, server_resource, result.cursor)
    assert again.run_requests == []
    assert f"'{name}' at {executed_at.isoformat()}" in again.skip_reason.skip_message

    # The run config the sensor built is valid for the job it targets, and the job runs with it.
    defs = dg.Definitions(assets=[endpoint_report], jobs=[report_job], sensors=[sensor])
    job = defs.resolve_job_def("endpoint_report_job")
    assert (
        dg.validate_run_config(job, request.run_config)["ops"]["endpoint_report"]["config"]["endpoint"]
        == name
    )
    outcome = job.execute_in_process(run_config=request.run_config, tags=request.tags)
    assert outcome.output_for_node("endpoint_report") == f"{name} at {executed_at.isoformat()}"


def test_two_executions_between_ticks_give_one_request_for_the_latest(
    make_endpoints, server_client, server_resource, server_control, tick
):
    (name,) = make_endpoints(1)
    sensor = build_endpoint_execution_sensor([name], job=report_job)
    cursor = tick(sensor, server_resource).cursor
    first = execute(server_client, name)
    latest = execute(server_client, name)
    if server_control.knobs()["last_execution_granularity_seconds"] == 0:
        assert latest > first  # exact times: the second execution is the one to report
    else:
        assert latest == first  # PostHog today: one time per endpoint per 30 minutes
    (request,) = tick(sensor, server_resource, cursor).run_requests
    assert request.tags["posthog/executed_at"] == latest.isoformat()


def test_the_run_key_repeats_for_the_same_execution(make_endpoints, server_client, server_resource, tick):
    """A daemon restarted before saving its cursor asks again; Dagster drops the repeated key."""
    names = make_endpoints(2)
    sensor = build_endpoint_execution_sensor(names, job=report_job)
    cursor = tick(sensor, server_resource).cursor
    execute(server_client, names[1])
    first = tick(sensor, server_resource, cursor)
    replay = tick(sensor, server_resource, cursor)
    assert [r.run_key for r in first.run_requests] == [r.run_key for r in replay.run_requests]
    assert len(first.run_requests) == 1 and first.run_requests[0].run_key.startswith(f"{names[1]}:")


@pytest.mark.parametrize("chunk_size", [200, 1000, 64])
def test_a_thousand_watched_names_cost_one_request_per_chunk(
    chunk_size, make_endpoints, server_client, server_resource, server_control, tick
):
    server_control.set_knobs(last_execution_granularity_seconds=0)  # ran[2] runs twice: exact times
    ran = make_endpoints(3)
    for name in ran:
        execute(server_client, name)
    # The others do not exist in PostHog: absent from the answer, exactly like "never ran".
    names = ran + [f"unknown_endpoint_{i:04d}" for i in range(1000 - len(ran))]
    sensor = build_endpoint_execution_sensor(names, job=report_job, chunk_size=chunk_size)
    server_control.reset_stats()
    baseline = tick(sensor, server_resource)
    assert server_control.request_count(LAST_EXECUTION_ROUTE) <= math.ceil(1000 / chunk_size)
    cursor = json.loads(baseline.cursor)
    assert len(cursor) == 1000 and sum(1 for v in cursor.values() if v) == 3

    execute(server_client, ran[2])
    server_control.reset_stats()
    result = tick(sensor, server_resource, baseline.cursor)
    assert [r.tags["posthog/endpoint"] for r in result.run_requests] == [ran[2]]
    assert server_control.request_count(LAST_EXECUTION_ROUTE) == math.ceil(1000 / chunk_size)


def test_a_failing_posthog_fails_the_tick_and_keeps_the_cursor(
    make_endpoints, server_client, server_resource, server_control, local_server, tick
):
    (name,) = make_endpoints(1)
    sensor = build_endpoint_execution_sensor([name], job=report_job)
    cursor = tick(sensor, server_resource).cursor
    execute(server_client, name)
    server_control.set_knobs(fault_rate=1.0, fault_kinds=["503"], fault_paths=["last_execution_times"])
    with dg.build_sensor_context(cursor=cursor, resources={"posthog": server_resource}) as context:
        with pytest.raises(EndpointSensorError, match="query engine is busy") as caught:
            sensor(context)
        assert context.cursor == cursor
    server_control.reset_knobs()
    assert local_server.api_key not in str(caught.value)
    # The execution made before the failure is found by the next tick: nothing was skipped.
    (request,) = tick(sensor, server_resource, cursor).run_requests
    assert request.tags["posthog/endpoint"] == name


@pytest.mark.slow
def test_a_server_that_is_down_fails_the_tick_and_the_next_tick_catches_up(tmp_path, tick):
    from endpoints_dagster.local.process import LocalServer

    def resource_of(server: LocalServer) -> PostHogEndpointsResource:
        return PostHogEndpointsResource(
            host=server.url, project_id=str(server.project_id), personal_api_key=server.api_key, max_retries=0
        )

    sensor = build_endpoint_execution_sensor(["dashboard_tiles"], job=report_job)
    with LocalServer(tmp_path / "server", demo=False) as server:
        resource = resource_of(server)
        with resource.get_client() as client:
            client.create_endpoint("dashboard_tiles", {"kind": "HogQLQuery", "query": "SELECT 1 AS one"})
            cursor = tick(sensor, resource).cursor
            executed_at = execute(client, "dashboard_tiles")

    with pytest.raises(EndpointSensorError, match="could not read the last execution times") as caught:
        tick(sensor, resource, cursor)
    assert server.url.removeprefix("http://") in str(caught.value)  # the client names the host it missed

    # Back up (on a new port, same data): the execution made before the outage launches its run.
    with LocalServer(tmp_path / "server", demo=False) as restarted:
        (request,) = tick(sensor, resource_of(restarted), cursor).run_requests
    assert request.run_key == f"dashboard_tiles:{executed_at.isoformat()}"


def test_a_corrupt_cursor_starts_a_new_baseline_with_a_warning(
    make_endpoints, server_client, server_resource, tick, capfd
):
    (name,) = make_endpoints(1)
    executed_at = execute(server_client, name)
    sensor = build_endpoint_execution_sensor([name], job=report_job)
    result = tick(sensor, server_resource, '{"truncated": ')
    assert result.run_requests == []
    assert json.loads(result.cursor) == {name: executed_at.isoformat()}
    assert "the cursor is not JSON" in capfd.readouterr().err


def test_executions_made_by_dagster_materializing_the_endpoint_do_not_loop(
    make_endpoints, server_client, server_resource, server_control, tick, tmp_path, monkeypatch
):
    """The sensor targets the endpoint asset itself (refresh the landed copy when a dashboard
    ran the endpoint): the materialization executes the endpoint, which must not trigger again."""
    server_control.set_knobs(last_execution_granularity_seconds=0)  # exact times, whatever the dialect
    (name,) = make_endpoints(1)
    assets = build_endpoint_assets([name])
    sensor = build_endpoint_execution_sensor(assets, target=[dg.AssetKey(["posthog", name])])
    instance = dg.DagsterInstance.ephemeral(tempdir=str(tmp_path))
    cursor = tick(sensor, server_resource, instance=instance).cursor

    executed_at = execute(server_client, name)  # a dashboard
    (request,) = tick(sensor, server_resource, cursor, instance=instance).run_requests
    cursor = tick(
        sensor, server_resource, cursor, instance=instance
    ).cursor  # (same cursor as the daemon saved)

    # The daemon launches the run: Dagster executes the endpoint through the API too.
    assert dg.materialize(
        assets, instance=instance, resources={"posthog": server_resource}, tags=request.tags
    ).success
    own = server_client.last_execution_times([name])[name]
    assert own > executed_at
    result = tick(sensor, server_resource, cursor, instance=instance)
    assert result.run_requests == []
    assert "Ignored 1 execution(s) made by Dagster's own run(s)" in result.skip_reason.skip_message
    assert json.loads(result.cursor)[name] == own.isoformat()  # recorded, so never reconsidered

    # The dashboard again, after the run. (Executions within CLOCK_SKEW_SECONDS of a run count as
    # the run's own, for clocks that differ; a test without that margin need not wait it out.)
    monkeypatch.setattr("endpoints_dagster.sensors.own_runs.CLOCK_SKEW_SECONDS", 0.0)
    later = execute(server_client, name)
    (request,) = tick(sensor, server_resource, result.cursor, instance=instance).run_requests
    assert request.run_key == f"{name}:{later.isoformat()}"


def test_own_executions_are_found_through_the_code_location_and_can_be_kept(
    make_endpoints, server_client, server_resource, server_control, tick, tmp_path
):
    server_control.set_knobs(last_execution_granularity_seconds=0)  # exact times, whatever the dialect
    (name,) = make_endpoints(1)
    assets = build_endpoint_assets([name])
    instance = dg.DagsterInstance.ephemeral(tempdir=str(tmp_path))
    by_name = build_endpoint_execution_sensor([name], job=report_job, name="by_name")
    keep_all = build_endpoint_execution_sensor(
        [name], job=report_job, name="keep_all", ignore_dagster_runs=False
    )
    defs = dg.Definitions(
        assets=[*assets, endpoint_report],
        jobs=[report_job],
        sensors=[by_name, keep_all],
        resources={"posthog": server_resource},
    )
    cursors = {
        s.name: tick(s, server_resource, instance=instance, definitions=defs).cursor
        for s in (by_name, keep_all)
    }

    assert dg.materialize(assets, instance=instance, resources={"posthog": server_resource}).success
    # Given only the name, the sensor finds the endpoint's asset in its code location.
    assert (
        tick(by_name, server_resource, cursors["by_name"], instance=instance, definitions=defs).run_requests
        == []
    )
    (request,) = tick(
        keep_all, server_resource, cursors["keep_all"], instance=instance, definitions=defs
    ).run_requests
    assert request.tags["posthog/endpoint"] == name
