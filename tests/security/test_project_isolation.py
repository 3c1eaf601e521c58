"""A key of project 1 cannot read (or change, or cancel anything in) project 2.

A local server of its own with two keys: ``KEY_ONE`` for project 1, ``KEY_TWO@2`` for project 2.
Project 2 holds an endpoint with a recognisable query; every route reached with the project-1 key
must refuse, and nothing about project 2 may show in project 1's answers or in the errors.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.client.errors import (
    EndpointNotFoundError,
    PermissionDeniedError,
    PostHogEndpointsError,
)
from endpoints_dagster.local.process import LocalServer

pytestmark = pytest.mark.integration

KEY_ONE = "phx_project_one_key_0123456789"
KEY_TWO = "phx_project_two_key_9876543210"
SECRET_NAME = "revenue_of_project_two"
SECRET_SQL = "SELECT 'confidential-figure' AS label, count() AS n FROM events"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = LocalServer(
        tmp_path_factory.mktemp("two-projects"),
        api_key=KEY_ONE,
        project_id=1,
        demo=False,
        events=2_000,
        extra_args=[f"--api-key={KEY_TWO}@2", "--no-access-log"],
    )
    with server:
        with EndpointsClient(server.url, 2, KEY_TWO) as owner:
            owner.create_endpoint(SECRET_NAME, SECRET_SQL)
            owner.run_endpoint(SECRET_NAME, refresh="force_blocking")
        yield server


@pytest.fixture
def intruder(server) -> Iterator[EndpointsClient]:
    with EndpointsClient(server.url, 2, KEY_ONE, max_retries=0) as client:
        yield client


CALLS = {
    "list_endpoints": lambda c: c.list_endpoints(),
    "get_endpoint": lambda c: c.get_endpoint(SECRET_NAME),
    "run_endpoint": lambda c: c.run_endpoint(SECRET_NAME),
    "run_endpoint async": lambda c: c.run_endpoint(SECRET_NAME, refresh="force_async"),
    "list_versions": lambda c: c.list_versions(SECRET_NAME),
    "get_version": lambda c: c.get_version(SECRET_NAME, 1),
    "last_execution_times": lambda c: c.last_execution_times([SECRET_NAME]),
    "create_endpoint": lambda c: c.create_endpoint("planted", "SELECT 1"),
    "update_endpoint": lambda c: c.update_endpoint(SECRET_NAME, description="changed"),
    "delete_endpoint": lambda c: c.delete_endpoint(SECRET_NAME),
    "get_query_status": lambda c: c.get_query_status("0123456789abcdef"),
    "cancel_query": lambda c: c.cancel_query("0123456789abcdef"),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_every_route_of_project_two_refuses_the_project_one_key(call, intruder, server):
    with pytest.raises(PermissionDeniedError) as caught:
        CALLS[call](intruder)
    assert caught.value.status_code == 403
    text = str(caught.value)
    assert "confidential-figure" not in text and KEY_ONE not in text and KEY_TWO not in text
    with EndpointsClient(server.url, 2, KEY_TWO) as owner:  # and nothing changed there
        endpoint = owner.get_endpoint(SECRET_NAME)
        assert endpoint.description in ("", None) and endpoint.current_version == 1
        assert [e.name for e in owner.list_endpoints()] == [SECRET_NAME]


def test_the_older_environments_alias_refuses_too(server):
    for path in ("endpoints/", f"endpoints/{SECRET_NAME}/run/"):
        response = httpx.get(
            f"{server.url}/api/environments/2/{path}", headers={"Authorization": f"Bearer {KEY_ONE}"}
        )
        assert response.status_code == 403 and "confidential-figure" not in response.text


def test_project_one_sees_nothing_of_project_two(server):
    with EndpointsClient(server.url, 1, KEY_ONE) as client:
        assert SECRET_NAME not in [e.name for e in client.list_endpoints()]
        with pytest.raises(EndpointNotFoundError):
            client.run_endpoint(SECRET_NAME)
        assert client.last_execution_times([SECRET_NAME]) == {}


def test_a_project_two_query_cannot_be_read_or_cancelled_through_project_one(server):
    query_id = uuid.uuid4().hex
    with (
        EndpointsClient(server.url, 2, KEY_TWO) as owner,
        EndpointsClient(server.url, 1, KEY_ONE, max_retries=0) as other,
    ):
        server.control.set_knobs(latency_by_endpoint={SECRET_NAME: 1.0})
        try:
            started = httpx.post(
                f"{server.url}/api/projects/2/endpoints/{SECRET_NAME}/run/",
                headers={"Authorization": f"Bearer {KEY_TWO}"},
                json={"refresh": "force_async", "client_query_id": query_id},
            )
            assert started.status_code == 202
            with pytest.raises(PostHogEndpointsError) as caught:
                other.get_query_status(query_id)
            assert caught.value.status_code == 404 and "confidential-figure" not in str(caught.value)
            other.cancel_query(
                query_id
            )  # PostHog answers a cancel of an unknown id as done; it must not touch project 2
            deadline = time.monotonic() + 30
            status = owner.get_query_status(query_id)
            while not status.complete and not status.error and time.monotonic() < deadline:
                time.sleep(0.1)
                status = owner.get_query_status(query_id)
        finally:
            server.control.reset_knobs()
    assert status.complete and not status.error
    assert status.results["results"][0][0] == "confidential-figure"
