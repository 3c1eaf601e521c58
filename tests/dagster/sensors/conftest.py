"""Shared helpers of the sensor tests: a respx-mocked PostHog and a way to tick a sensor."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import dagster as dg
import httpx
import pytest
import respx

from endpoints_dagster.resource import PostHogEndpointsResource

MOCK_HOST = "http://127.0.0.1:9999"
API_KEY = "phx_sensor_test_key_0123456789"
ROUTE = "/api/projects/1/endpoints/last_execution_times/"


class MockedPostHog:
    """`last_execution_times` answered from `times`; `bodies` records the names of each request."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.times: dict[str, str] = {}
        self.bodies: list[list[str]] = []
        self.status = 200
        self.route = router.post(ROUTE).mock(side_effect=self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {API_KEY}"
        names = json.loads(request.content)["names"]
        self.bodies.append(names)
        if self.status != 200:
            return httpx.Response(
                self.status, json={"type": "server_error", "code": "error", "detail": "boom", "attr": None}
            )
        rows = [[n, self.times[n]] for n in names if n in self.times]
        return httpx.Response(
            200, json={"query_status": {"id": "", "team_id": 1, "complete": True, "results": rows}}
        )


@pytest.fixture
def posthog_mock() -> Iterator[MockedPostHog]:
    with respx.mock(base_url=MOCK_HOST, assert_all_called=False) as router:
        yield MockedPostHog(router)


@pytest.fixture
def api_key() -> str:
    return API_KEY


@pytest.fixture
def mock_resource() -> PostHogEndpointsResource:
    """A resource pointing at the mocked PostHog (no retries: failures show at once)."""
    return PostHogEndpointsResource(host=MOCK_HOST, project_id="1", personal_api_key=API_KEY, max_retries=0)


def _tick(
    sensor: dg.SensorDefinition,
    resource: PostHogEndpointsResource,
    cursor: str | None = None,
    *,
    instance: dg.DagsterInstance | None = None,
    definitions: dg.Definitions | None = None,
    resource_key: str = "posthog",
) -> dg.SensorResult:
    """One evaluation of the sensor, as the daemon would run it."""
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={resource_key: resource}, definitions=definitions
    ) as context:
        return sensor(context)


@pytest.fixture
def tick():
    """`tick(sensor, resource, cursor=None, *, instance=None, definitions=None) -> SensorResult`."""
    return _tick


@pytest.fixture
def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the local PostHog Endpoints server ----------------------------------------------------------


@pytest.fixture
def server_resource(local_server) -> PostHogEndpointsResource:
    """A resource on the session's local server (tests/conftest.py), without retries."""
    return PostHogEndpointsResource(
        host=local_server.url,
        project_id=str(local_server.project_id),
        personal_api_key=local_server.api_key,
        max_retries=0,
    )


@pytest.fixture
def server_client(server_resource):
    with server_resource.get_client() as client:
        yield client


@pytest.fixture
def make_endpoints(server_client):
    """`make_endpoints(n) -> [names]`: fresh endpoints of this test only (the server is shared)."""
    import uuid

    def make(count: int = 1) -> list[str]:
        prefix = f"sensor_{uuid.uuid4().hex[:10]}"
        names = [f"{prefix}_{i}" for i in range(count)]
        for name in names:
            server_client.create_endpoint(name, {"kind": "HogQLQuery", "query": "SELECT 1 AS one"})
        return names

    return make
