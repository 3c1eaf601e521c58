"""Names, hosts and the key: refused before any request, and never shown anywhere."""

from __future__ import annotations

import pytest
from client_fakes import BASE, HOST, KEY, PROJECT

from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.client.errors import InvalidEndpointNameError

BAD_NAMES = [
    "../x",
    "%2e%2e",
    "a b",
    "x" * 129,
    "",
    "1abc",
    "_x",
    "-x",
    "a/b",
    "a?b",
    "a.b",
    "naïve",
    None,
    5,
]

CALLS = {
    "get_endpoint": lambda c, n: c.get_endpoint(n),
    "run_endpoint": lambda c, n: c.run_endpoint(n),
    "create_endpoint": lambda c, n: c.create_endpoint(n, "SELECT 1"),
    "update_endpoint": lambda c, n: c.update_endpoint(n, description="d"),
    "delete_endpoint": lambda c, n: c.delete_endpoint(n),
    "list_versions": lambda c, n: c.list_versions(n),
    "get_version": lambda c, n: c.get_version(n, 1),
    "last_execution_times": lambda c, n: c.last_execution_times(["ok", n]),
    "ui_url_for": lambda c, n: c.ui_url_for(n),
}


@pytest.mark.parametrize("method", sorted(CALLS))
@pytest.mark.parametrize("name", BAD_NAMES, ids=lambda name: repr(name)[:12])
def test_invalid_names_are_refused_before_any_request(client, api, method, name):
    with pytest.raises(InvalidEndpointNameError) as info:
        CALLS[method](client, name)
    assert isinstance(info.value, ValueError)
    assert "^[a-zA-Z][a-zA-Z0-9_-]{0,127}$" in str(info.value)
    assert not api.calls


def test_name_error_says_why(client):
    with pytest.raises(InvalidEndpointNameError, match="129 characters long"):
        client.get_endpoint("x" * 129)
    with pytest.raises(InvalidEndpointNameError, match="must start with a letter"):
        client.get_endpoint("1abc")


def test_longest_valid_name_is_accepted(client, api):
    name = "a" + "b_-9" * 31 + "xyz"
    assert len(name) == 128
    route = api.get(f"{BASE}{name}/").respond(json={"name": name})
    assert client.get_endpoint(name).name == name and route.call_count == 1


@pytest.mark.parametrize(
    "host", ["http://posthog.example.com", "http://10.0.0.5:8000", "HTTP://eu.posthog.com"]
)
def test_plain_http_is_refused_for_remote_hosts(host):
    with pytest.raises(ValueError, match="allow_insecure_http"):
        EndpointsClient(host, PROJECT, KEY)
    assert EndpointsClient(host, PROJECT, KEY, allow_insecure_http=True).host.startswith("http://")


@pytest.mark.parametrize("host", ["http://127.0.0.1:8123", "http://localhost:8000", "http://[::1]:9000"])
def test_plain_http_is_fine_for_loopback(host):
    with EndpointsClient(host, PROJECT, KEY) as client:
        assert client.host == host


def test_host_without_scheme_means_https():
    assert EndpointsClient("us.posthog.com", PROJECT, KEY).host == "https://us.posthog.com"


@pytest.mark.parametrize(
    "host", ["", "ftp://x.example", "https://user:pw@x.example", "https://x.example/?a=1"]
)
def test_bad_hosts(host):
    with pytest.raises(ValueError):
        EndpointsClient(host, PROJECT, KEY)


@pytest.mark.parametrize("project_id", ["abc", 0, -1, True, 1.5, None, "1; DROP"])
def test_bad_project_ids(project_id):
    with pytest.raises(ValueError, match="project_id"):
        EndpointsClient(HOST, project_id, KEY)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("request_timeout", 0),
        ("max_retries", -1),
        ("poll_interval", -1),
        ("run_timeout", "x"),
        ("max_rows", 0),
        ("page_size", 50_001),
        ("page_size", 0),
    ],
)
def test_bad_settings(setting, value):
    with pytest.raises(ValueError, match=setting):
        EndpointsClient(HOST, PROJECT, KEY, **{setting: value})


@pytest.mark.parametrize("key", ["", "   ", f"{KEY}\nX-Evil: 1", f"{KEY} more", f"{KEY}é"])
def test_bad_keys_are_refused_without_echoing_them(key):
    with pytest.raises(ValueError) as info:
        EndpointsClient(HOST, PROJECT, key)
    assert KEY not in str(info.value)


def test_client_repr_shows_host_and_project_only(client):
    assert repr(client) == f"EndpointsClient(host='{HOST}', project_id={PROJECT})"
    assert KEY not in str(client) and KEY not in repr(client._http.__dict__.get("host"))


def test_the_key_appears_in_no_error_of_a_failing_run(client, api):
    api.get(f"{BASE}x/run/").respond(401, json={"detail": "bad key"})
    with pytest.raises(Exception) as info:
        client.run_endpoint("x")
    text = f"{info.value!s} {info.value!r} {vars(info.value)!r}"
    assert KEY not in text and "bad key" in text
