"""Both error shapes (and non-JSON bodies) become the right exception, with a useful message."""

from __future__ import annotations

import pickle

import httpx
import pytest
from client_fakes import BASE, HOST, KEY, PROJECT, QUERY, make_client

from endpoints_dagster.client.errors import (
    AuthenticationError,
    EndpointNotFoundError,
    InvalidEndpointNameError,
    InvalidRequestError,
    PermissionDeniedError,
    PostHogConnectionError,
    PostHogEndpointsError,
    QueryError,
    QueryTimeoutError,
    RateLimitedError,
    ServerError,
    TooManyRowsError,
)


def drf(type_: str, code: str, detail: str, attr: str | None = None) -> dict:
    return {"type": type_, "code": code, "detail": detail, "attr": attr}


@pytest.fixture
def once(fake_time):
    """A client that never retries, so error classes can be checked for retryable statuses too."""
    client = make_client(fake_time, max_retries=0)
    yield client
    client.close()


def assert_clean(error: BaseException) -> None:
    assert KEY not in str(error) and KEY not in repr(error)
    assert KEY not in repr(vars(error))


def test_401_is_authentication_error(once, api):
    api.get(f"{BASE}daily_signups/").respond(
        401, json=drf("authentication_error", "not_authenticated", "Invalid personal API key.")
    )
    with pytest.raises(AuthenticationError) as info:
        once.get_endpoint("daily_signups")
    error = info.value
    assert (error.status_code, error.code, error.detail) == (
        401,
        "not_authenticated",
        "Invalid personal API key.",
    )
    assert error.endpoint == "daily_signups" and error.request_method == "GET"
    assert error.request_url == f"{HOST}{BASE}daily_signups/"
    assert "'daily_signups'" in str(error) and "personal_api_key" in str(error)
    assert_clean(error)


def test_403_names_the_missing_scope_and_what_to_do(once, api):
    api.post(BASE).respond(
        403,
        json=drf(
            "authentication_error", "permission_denied", "API key missing required scope 'endpoint:write'"
        ),
    )
    with pytest.raises(PermissionDeniedError) as info:
        once.create_endpoint("new_one", "SELECT 1")
    error = info.value
    assert error.scope == "endpoint:write"
    assert "lacks the scope 'endpoint:write'" in str(error)
    assert "Issue a personal API key with the 'endpoint:write' scope" in str(error)
    assert "'new_one'" in str(error)
    assert_clean(error)


def test_403_without_a_scope_talks_about_project_access(once, api):
    api.get(f"{BASE}x/").respond(
        403, json=drf("authentication_error", "permission_denied", "No access to project.")
    )
    with pytest.raises(PermissionDeniedError) as info:
        once.get_endpoint("x")
    assert info.value.scope is None and f"project {PROJECT}" in str(info.value)


def test_404_names_the_endpoint(once, api):
    api.get(f"{BASE}gone/").respond(404, json=drf("invalid_request", "not_found", "Not found."))
    with pytest.raises(EndpointNotFoundError) as info:
        once.get_endpoint("gone")
    assert info.value.endpoint == "gone" and info.value.version is None
    assert "Endpoint 'gone' was not found" in str(info.value) and "list_endpoints()" in str(info.value)


def test_404_on_a_version_of_a_run_names_the_version(once, api):
    api.get(f"{BASE}daily_signups/run/").respond(
        404, json={"error": "Version 9 not found for endpoint 'daily_signups'", "current_version": 2}
    )
    with pytest.raises(EndpointNotFoundError) as info:
        once.run_endpoint("daily_signups", version=9)
    error = info.value
    assert (error.version, error.current_version, error.detail) == (
        9,
        2,
        "Version 9 not found for endpoint 'daily_signups'",
    )
    assert "Version 9 of endpoint 'daily_signups'" in str(error) and "current version is 2" in str(error)


def test_404_on_versions_route(once, api):
    api.get(f"{BASE}daily_signups/versions/7/").respond(404, json={"error": "Version 7 not found"})
    with pytest.raises(EndpointNotFoundError) as info:
        once.get_version("daily_signups", 7)
    assert info.value.version == 7 and "list_versions('daily_signups')" in str(info.value)


def test_404_on_query_status_is_about_the_query(once, api):
    api.get(f"{QUERY}q9/").respond(404, json=drf("invalid_request", "not_found", "Not found."))
    with pytest.raises(PostHogEndpointsError) as info:
        once.get_query_status("q9")
    assert not isinstance(info.value, EndpointNotFoundError)
    assert "Query 'q9'" in str(info.value)


def test_400_names_the_field(once, api):
    api.patch(f"{BASE}daily_signups/").respond(
        400,
        json=drf(
            "validation_error",
            "invalid_input",
            "Cache age must be between 300 and 86400 seconds.",
            "cache_age_seconds",
        ),
    )
    with pytest.raises(InvalidRequestError) as info:
        once.update_endpoint("daily_signups", cache_age_seconds=5)
    error = info.value
    assert not isinstance(error, QueryError)
    assert error.attr == "cache_age_seconds"
    assert "field 'cache_age_seconds'" in str(error) and "Cache age must be between" in str(error)


def test_400_drf_field_dict_shape(once, api):
    api.post(BASE).respond(
        400, json={"cache_age_seconds": ["Cache age must be between 300 and 86400 seconds."]}
    )
    with pytest.raises(InvalidRequestError) as info:
        once.create_endpoint("x", "SELECT 1", cache_age_seconds=5)
    assert info.value.attr == "cache_age_seconds" and "Cache age must be" in str(info.value)


def test_run_400_unknown_variable_is_a_request_error(once, api):
    api.post(f"{BASE}daily_signups/run/").respond(
        400, json=drf("validation_error", "invalid_input", "Unknown variable(s): nope", "variables_values")
    )
    with pytest.raises(InvalidRequestError) as info:
        once.run_endpoint("daily_signups", variables={"nope": 1})
    assert not isinstance(info.value, QueryError)
    # Told as the caller wrote it (`variables`), not under the wire field; PostHog's words stay in detail.
    assert info.value.attr == "variables" and "has no variable 'nope' (passed in `variables`)" in str(
        info.value
    )
    assert info.value.detail == "Unknown variable(s): nope"


def test_run_400_bad_version_plain_error_shape(once, api):
    api.get(f"{BASE}daily_signups/run/").respond(400, json={"error": "Invalid version parameter: abc"})
    with pytest.raises(InvalidRequestError) as info:
        once.run_endpoint("daily_signups", version=3)
    assert not isinstance(info.value, QueryError)
    assert info.value.detail == "Invalid version parameter: abc" and "'version'" in str(info.value)


def test_run_400_engine_failure_is_a_query_error(once, api):
    detail = "Query execution failed: Code: 47. DB::Exception: Unknown identifier 'nope'"
    api.get(f"{BASE}daily_signups/run/").respond(400, json=drf("validation_error", "invalid_input", detail))
    with pytest.raises(QueryError) as info:
        once.run_endpoint("daily_signups")
    assert isinstance(info.value, InvalidRequestError)
    assert detail in str(info.value) and "Endpoint 'daily_signups' failed to run" in str(info.value)


def test_429_parses_expected_available_in(once, api):
    api.get(BASE).respond(
        429,
        json=drf("throttled_error", "throttled", "Request was throttled. Expected available in 17 seconds."),
    )
    with pytest.raises(RateLimitedError) as info:
        once.list_endpoints()
    assert info.value.retry_after == 17.0 and "wait 17 s" in str(info.value)


def test_429_prefers_retry_after_header(once, api):
    api.get(BASE).respond(429, headers={"Retry-After": "3"}, json={"error": "slow down"})
    with pytest.raises(RateLimitedError) as info:
        once.list_endpoints()
    assert info.value.retry_after == 3.0


def test_503_query_capacity_is_a_server_error(once, api):
    api.get(f"{BASE}daily_signups/run/").respond(
        503, json=drf("server_error", "query_capacity", "Too many queries running.")
    )
    with pytest.raises(ServerError) as info:
        once.run_endpoint("daily_signups")
    assert info.value.code == "query_capacity" and "busy" in str(info.value)


def test_500_with_a_non_json_body(once, api):
    api.get(BASE).respond(500, text="<html><body><h1>Internal  Server Error</h1></body></html>")
    with pytest.raises(ServerError) as info:
        once.list_endpoints()
    assert info.value.detail == "non-JSON answer: Internal Server Error"


def test_unusual_status_is_a_base_error(once, api):
    api.get(BASE).respond(418, json={"detail": "teapot"})
    with pytest.raises(PostHogEndpointsError) as info:
        once.list_endpoints()
    assert type(info.value) is PostHogEndpointsError and "418" in str(info.value)


def test_redirect_is_not_followed(once, api):
    api.get(BASE).respond(301, headers={"Location": "https://elsewhere.example/api/"})
    with pytest.raises(PostHogEndpointsError) as info:
        once.list_endpoints()
    assert "redirect" in str(info.value) and "elsewhere.example" in str(info.value)
    assert len(api.calls) == 1


def test_non_json_success_body(once, api):
    api.get(BASE).respond(200, text="<html>login</html>")
    with pytest.raises(PostHogEndpointsError) as info:
        once.list_endpoints()
    assert "not JSON" in str(info.value)


def test_a_key_echoed_by_a_server_is_redacted(once, api):
    api.get(BASE).respond(400, json={"detail": f"bad header Authorization: Bearer {KEY}"})
    with pytest.raises(InvalidRequestError) as info:
        once.list_endpoints()
    assert "[redacted]" in str(info.value)
    assert_clean(info.value)


def test_connection_failure_names_the_host_after_retries(client, api, fake_time):
    route = api.get(BASE).mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(PostHogConnectionError) as info:
        client.list_endpoints()
    error = info.value
    assert route.call_count == 4 and error.attempts == 4  # max_retries=3
    assert error.host == HOST and HOST in str(error) and "after 4 attempts" in str(error)
    assert error.request_sent is False and isinstance(error.__cause__, httpx.ConnectError)
    assert_clean(error)


def test_unserialisable_variable_is_a_clear_error(once, api):
    with pytest.raises(InvalidRequestError) as info:
        once.run_endpoint("daily_signups", variables={"since": object()})
    assert "JSON-compatible" in str(info.value)
    assert not api.calls


def test_errors_pickle_with_their_attributes(once, api):
    api.get(f"{BASE}daily_signups/run/").respond(
        404, json={"error": "Version 9 not found for endpoint 'daily_signups'", "current_version": 2}
    )
    with pytest.raises(EndpointNotFoundError) as info:
        once.run_endpoint("daily_signups", version=9)
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is EndpointNotFoundError and str(copy) == str(info.value)
    assert (copy.version, copy.current_version, copy.status_code) == (9, 2, 404)
    timeout = pickle.loads(pickle.dumps(QueryTimeoutError(endpoint="e", query_id="q", timeout=5)))
    assert timeout.timeout == 5 and timeout.query_id == "q"


def test_client_side_error_messages_say_what_to_do():
    too_many = TooManyRowsError(endpoint="big", rows_at_least=1_000_001, max_rows=1_000_000)
    assert "at least 1,000,001 rows" in str(too_many) and "max_rows=None" in str(too_many)
    timeout = QueryTimeoutError(endpoint="slow", query_id="q1", timeout=30)
    assert "within 30 s" in str(timeout) and "run_timeout" in str(timeout) and "'slow'" in str(timeout)
    assert issubclass(InvalidEndpointNameError, ValueError) and issubclass(QueryError, InvalidRequestError)
