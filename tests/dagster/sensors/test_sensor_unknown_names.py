"""A sensor watching a misspelled endpoint says so in the tick, with close names (issue 14)."""

from __future__ import annotations

import dagster as dg
import pytest

from endpoints_dagster.sensors.sensor import build_endpoint_execution_sensor

pytestmark = pytest.mark.integration


@dg.asset
def report() -> None:
    return None


def test_a_misspelled_endpoint_is_named_in_the_tick_with_a_close_name(server_resource, tick):
    sensor = build_endpoint_execution_sensor(["revenue_by_contry", "top_events"], target=[report])
    result = tick(sensor, server_resource)
    reason = result.skip_reason.skip_message
    assert "Unknown endpoint(s): 'revenue_by_contry' (did you mean 'revenue_by_country'?)" in reason
    assert "'top_events'" not in reason.split("Unknown endpoint(s):")[1]


def test_known_endpoints_that_never_ran_are_not_called_unknown(server_resource, make_endpoints, tick):
    [name] = make_endpoints(1)
    result = tick(build_endpoint_execution_sensor([name], target=[report]), server_resource)
    assert "Unknown endpoint" not in result.skip_reason.skip_message
