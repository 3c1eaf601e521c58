"""Endpoint names outside the contract's rule and plain http:// to remote hosts are refused before
a URL is built: nothing reaches the server (counted on the local server, or by respx).

The client's own unit tests (``tests/client/test_client_safety.py``) check each method against
respx; here the same refusals are checked end to end: against the local server's request counter,
through the asset factory, the sensor builder and the resource.
"""

from __future__ import annotations

import dagster as dg
import pytest
import respx

from endpoints_dagster import EndpointSpec, PostHogEndpointsResource, build_endpoint_assets
from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.client.errors import InvalidEndpointNameError
from endpoints_dagster.sensors.sensor import build_endpoint_execution_sensor


@dg.asset
def report() -> None: ...


BAD_NAMES = {
    "parent directory": "../x",
    "encoded dots": "%2e%2e",
    "encoded slash": "a%2Fb",
    "space": "daily signups",
    "129 characters": "a" * 129,
    "trailing newline": "daily_signups\n",
    "query string": "a?b=1",
    "fragment": "a#b",
    "nested path": "a/../../b",
    "starts with a digit": "1abc",
    "NUL": "a\x00b",
    "non-ASCII letter": "naïve",
}

CALLS = {
    "run_endpoint": lambda c, n: c.run_endpoint(n),
    "get_endpoint": lambda c, n: c.get_endpoint(n),
    "create_endpoint": lambda c, n: c.create_endpoint(n, "SELECT 1"),
    "update_endpoint": lambda c, n: c.update_endpoint(n, description="d"),
    "delete_endpoint": lambda c, n: c.delete_endpoint(n),
    "list_versions": lambda c, n: c.list_versions(n),
    "get_version": lambda c, n: c.get_version(n, 1),
    "last_execution_times": lambda c, n: c.last_execution_times(["daily_signups", n]),
}


def api_requests(control) -> dict[str, int]:
    return {route: n for route, n in control.stats()["requests"].items() if " /api/" in route}


@pytest.mark.integration
@pytest.mark.parametrize("case", sorted(BAD_NAMES))
def test_a_bad_name_reaches_no_route_of_the_server(case, local_server, server_control):
    name = BAD_NAMES[case]
    server_control.reset_stats()
    with EndpointsClient(local_server.url, local_server.project_id, local_server.api_key) as client:
        for call in CALLS.values():
            with pytest.raises(InvalidEndpointNameError, match=r"\^\[a-zA-Z\]"):
                call(client, name)
    assert api_requests(server_control) == {}


@pytest.mark.parametrize("case", sorted(BAD_NAMES))
def test_the_asset_factory_and_the_sensor_refuse_a_bad_name_at_definition(case):
    name = BAD_NAMES[case]
    with pytest.raises(ValueError):
        build_endpoint_assets([name])
    with pytest.raises(ValueError):
        EndpointSpec(name)
    job = dg.define_asset_job("report_job", selection=[report])
    with pytest.raises(ValueError):
        build_endpoint_execution_sensor([name], job=job)


REFUSED_HOSTS = [
    "http://posthog.example.com",
    "http://10.0.0.5:8000",
    "http://192.168.1.20",
    "http://127.0.0.1.nip.io",
    "http://localhost.example.com",
    "http://0.0.0.0:8000",
    "http://2130706433",  # 127.0.0.1 as one decimal number: not read as loopback, so refused
]
ACCEPTED_HOSTS = [
    "http://127.0.0.1:8010",
    "http://127.0.0.2:8010",
    "http://localhost:8010",
    "http://[::1]:8010",
    "https://posthog.example.com",
    "posthog.example.com",
]


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_plain_http_to_a_remote_host_is_refused_by_the_resource(host):
    resource = PostHogEndpointsResource(host=host, project_id="1", personal_api_key="phx_sec_test_key")
    with pytest.raises(ValueError, match="allow_insecure_http") as caught:
        resource.get_client()
    assert "phx_sec_test_key" not in str(caught.value)
    opted_in = PostHogEndpointsResource(
        host=host, project_id="1", personal_api_key="phx_k", allow_insecure_http=True
    )
    with opted_in.get_client() as client:
        assert client.host.startswith("http://")


@pytest.mark.parametrize("host", ACCEPTED_HOSTS)
def test_loopback_http_and_https_are_accepted(host):
    with PostHogEndpointsResource(host=host, project_id="1", personal_api_key="phx_k").get_client() as client:
        assert client.host.startswith(("http://", "https://"))


def test_a_materialization_against_a_plain_http_remote_host_sends_nothing():
    resource = PostHogEndpointsResource(
        host="http://posthog.example.com", project_id="1", personal_api_key="phx_k"
    )
    with respx.mock(assert_all_called=False) as api:
        anything = api.route().respond(200, json={})
        result = dg.materialize(
            build_endpoint_assets(["daily_signups"]), resources={"posthog": resource}, raise_on_error=False
        )
    assert not result.success and not anything.called
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    text = failure.message + (failure.cause.message if failure.cause else "")
    assert "allow_insecure_http" in text
