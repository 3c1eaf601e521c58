"""The API key never appears in an exception: message, repr, attributes, traceback or pickle.

One error of each kind the client raises, each against a PostHog (respx) that also tries to give
the key back: echoed in an error detail, in an HTML error page, in a query's error message.
Logs at DEBUG (the client's, httpx's, httpcore's) are checked too.
"""

from __future__ import annotations

import logging
import pickle
import socket
import traceback
from collections.abc import Callable

import httpx
import pytest
import respx

from endpoints_dagster import PostHogEndpointsResource
from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.client.errors import (
    AuthenticationError,
    EndpointNotFoundError,
    InvalidRequestError,
    PermissionDeniedError,
    PostHogConnectionError,
    PostHogEndpointsError,
    QueryError,
    QueryFailedError,
    QueryTimeoutError,
    RateLimitedError,
    ServerError,
    TooManyRowsError,
)

KEY = "phx_TopSecretKey_9f8e7d6c5b4a3210"
HOST = "https://posthog.example.com"
BASE = "/api/projects/7/endpoints/"
RUN = f"{BASE}signups/run/"
QUERY = "/api/projects/7/query/q1/"


def everything_about(error: BaseException) -> str:
    """Every text a user, a log handler or Dagster's event log could get from the exception."""
    parts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    parts += [f"{k}={v!r}" for k, v in vars(error).items()]
    parts.append(pickle.dumps(error).decode("latin-1"))
    return "\n".join(parts)


def pending() -> dict:
    return {"query_status": {"id": "q1", "complete": False, "error": False}}


def rows(n: int) -> dict:
    return {
        "results": [[i] for i in range(n)],
        "columns": ["n"],
        "types": [["n", "UInt64"]],
        "hasMore": False,
    }


Scenario = Callable[[respx.MockRouter], None]
SCENARIOS: dict[str, tuple[Scenario, type[PostHogEndpointsError], dict]] = {
    "401 echoing the header": (
        lambda api: api.get(RUN).respond(
            401,
            json={"type": "authentication_error", "code": "bad_key", "detail": f"Invalid key Bearer {KEY}"},
        ),
        AuthenticationError,
        {},
    ),
    "403 missing scope": (
        lambda api: api.get(RUN).respond(
            403,
            json={
                "type": "authentication_error",
                "code": "permission_denied",
                "detail": "API key missing required scope 'endpoint:read'",
            },
        ),
        PermissionDeniedError,
        {},
    ),
    "404 endpoint": (
        lambda api: api.get(RUN).respond(404, json={"detail": "Not found."}),
        EndpointNotFoundError,
        {},
    ),
    "400 invalid request echoing the key": (
        lambda api: api.get(RUN).respond(400, json={"attr": "version", "detail": f"bad version for {KEY}"}),
        InvalidRequestError,
        {},
    ),
    "400 query error": (
        lambda api: api.get(RUN).respond(
            400, json={"type": "validation_error", "detail": "Code: 47. Unknown identifier x"}
        ),
        QueryError,
        {},
    ),
    "429 with the key in the detail": (
        lambda api: api.get(RUN).respond(
            429, json={"detail": f"{KEY} throttled. Expected available in 1 seconds."}
        ),
        RateLimitedError,
        {},
    ),
    "503 HTML page echoing the key": (
        lambda api: api.get(RUN).respond(
            503, text=f"<html><body>upstream said: Authorization: Bearer {KEY}</body></html>"
        ),
        ServerError,
        {},
    ),
    "read timeout": (
        lambda api: api.get(RUN).mock(side_effect=httpx.ReadTimeout("timed out")),
        PostHogConnectionError,
        {},
    ),
    "connection reset": (
        lambda api: api.get(RUN).mock(side_effect=httpx.ReadError("[Errno 104] Connection reset by peer")),
        PostHogConnectionError,
        {},
    ),
    "async query failed, message echoing the key": (
        lambda api: (
            api.post(RUN).respond(202, json=pending()),
            api.get(QUERY).respond(
                400,
                json={
                    "query_status": {
                        "id": "q1",
                        "complete": True,
                        "error": True,
                        "error_message": f"auth {KEY} rejected",
                    }
                },
            ),
        ),
        QueryFailedError,
        {"refresh": "force_async"},
    ),
    "async query never completes": (
        lambda api: (
            api.post(RUN).respond(202, json=pending()),
            api.get(QUERY).respond(202, json=pending()),
            api.delete(QUERY).respond(200, json={"message": "Query task revoked"}),
        ),
        QueryTimeoutError,
        {"refresh": "force_async", "timeout": 0.3},
    ),
    "too many rows": (lambda api: api.get(RUN).respond(200, json=rows(5)), TooManyRowsError, {"max_rows": 3}),
}


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "endpoints_dagster"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield
    assert KEY not in caplog.text
    assert all(KEY not in repr(record.args) and KEY not in str(record.msg) for record in caplog.records)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_no_error_carries_the_key(scenario):
    arrange, kind, options = SCENARIOS[scenario]
    client = EndpointsClient(HOST, 7, KEY, max_retries=1, poll_interval=0.01, poll_max_interval=0.02)
    client._sleep = lambda seconds, cancel_event=None: False  # retries without waiting
    with respx.mock(base_url=HOST, assert_all_called=False) as api, client:
        arrange(api)
        with pytest.raises(kind) as caught:
            client.run_endpoint("signups", **options)
    assert KEY not in everything_about(caught.value)
    assert caught.value.endpoint == "signups"


def test_an_unreachable_host_error_does_not_carry_the_key():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with EndpointsClient(f"http://127.0.0.1:{port}", 7, KEY, max_retries=0) as client:
        with pytest.raises(PostHogConnectionError) as caught:
            client.list_endpoints()
    assert KEY not in everything_about(caught.value)


def test_the_resource_and_the_client_never_show_the_key():
    resource = PostHogEndpointsResource(host=HOST, project_id="7", personal_api_key=KEY)
    with resource.get_client() as client:
        texts = [repr(resource), str(resource), repr(client), str(client), repr(vars(client))]
    assert all(KEY not in text for text in texts)


@pytest.mark.parametrize("bad", [KEY[:10] + "\n" + KEY[10:], KEY[:10] + " " + KEY[10:], KEY + "\u00e9"])
def test_a_malformed_key_is_refused_without_echoing_it(bad):
    # httpx would refuse such a header value with an error that quotes it: the client refuses it first.
    with pytest.raises(ValueError) as caught:
        EndpointsClient(HOST, 7, bad)
    assert KEY[:10] not in everything_about(caught.value) and KEY[10:] not in everything_about(caught.value)
