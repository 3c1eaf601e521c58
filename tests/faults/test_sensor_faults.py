"""The execution sensor through a faulty PostHog: retried reads neither skip nor repeat an execution.

PostHog failing for good during a tick (the tick fails and keeps its cursor; the next tick catches
up, also after the server was down and came back) is covered in ``tests/sensors/test_sensor_local.py``.
Here the reads of ``last_execution_times`` meet 429s, 503s and dropped connections most of the time
and succeed on a retry: every execution must give exactly one run request, with its run key.
"""

from __future__ import annotations

import dagster as dg
import pytest
from fault_helpers import ORDERED_QUERY, resource_for

from endpoints_dagster.sensors.sensor import build_endpoint_execution_sensor

pytestmark = pytest.mark.integration

ROUTE = "POST /api/projects/{project_id}/endpoints/last_execution_times/"
FAULTS = dict(fault_rate=0.8, fault_kinds=["429", "503", "drop"], fault_paths=["last_execution_times"])


@dg.asset
def endpoint_report() -> None: ...


report_job = dg.define_asset_job("endpoint_report_job", selection=[endpoint_report])


def test_retried_ticks_launch_each_execution_exactly_once(local_server, server_control, endpoint_factory):
    names = [endpoint_factory(ORDERED_QUERY) for _ in range(3)]
    sensor = build_endpoint_execution_sensor(names, job=report_job)
    resource = resource_for(local_server.url, local_server, max_retries=60)

    def tick(cursor: str | None) -> dg.SensorResult:
        with dg.build_sensor_context(cursor=cursor, resources={"posthog": resource}) as context:
            return sensor(context)

    def execute(name: str) -> str:
        server_control.set_knobs(fault_rate=0.0)
        with resource.get_client() as client:
            client.run_endpoint(name, refresh="force_blocking")
            executed_at = client.last_execution_times([name])[name].isoformat()
        server_control.set_knobs(**FAULTS)
        return f"{name}:{executed_at}"

    cursor = tick(None).cursor
    expected = [execute(names[0]), execute(names[1])]
    server_control.reset_stats()
    result = tick(cursor)
    assert sorted(r.run_key for r in result.run_requests) == sorted(expected)

    quiet = [tick(result.cursor) for _ in range(5)]
    assert all(q.run_requests == [] for q in quiet)

    later = execute(names[2])
    result = tick(quiet[-1].cursor)
    assert [r.run_key for r in result.run_requests] == [later]
    assert tick(result.cursor).run_requests == []
    # Eight ticks and one read in execute() succeeded once each; the faults made more requests.
    assert server_control.request_count(ROUTE) > 9
