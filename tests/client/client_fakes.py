"""Shared fakes for the client tests: constants, a fake clock, canned PostHog answers."""

from __future__ import annotations

import json
import threading

from endpoints_dagster.client.client import EndpointsClient

KEY = "phx_SECRET_abc123"
HOST = "https://posthog.example.com"
PROJECT = 42
BASE = f"/api/projects/{PROJECT}/endpoints/"
QUERY = f"/api/projects/{PROJECT}/query/"


class FakeTime:
    """A monotonic clock that only moves when the client sleeps; records every requested wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = None  # optional hook(seconds) run before returning, e.g. to set an event

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float, cancel_event: threading.Event | None = None) -> bool:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(seconds)
        return bool(cancel_event is not None and cancel_event.is_set())


def make_client(fake_time: FakeTime, **kwargs) -> EndpointsClient:
    settings = dict(max_retries=3, poll_interval=0.2, poll_max_interval=1.0, run_timeout=60.0, page_size=1000)
    settings.update(kwargs)
    client = EndpointsClient(HOST, PROJECT, KEY, **settings)
    client._sleep = fake_time.sleep
    client._clock = fake_time.clock
    return client


def endpoint_json(name: str = "daily_signups", **overrides) -> dict:
    body = {
        "id": "0b7c1d3e-0000-4000-8000-000000000001",
        "name": name,
        "description": "signups per day",
        "query": {
            "kind": "HogQLQuery",
            "query": "SELECT toDate(timestamp) AS day, count() AS signups FROM events "
            "WHERE timestamp >= {variables.since} GROUP BY day",
            "variables": {"v-1": {"variableId": "v-1", "code_name": "since", "value": "2026-01-01"}},
            "explain": None,
            "filters": None,
        },
        "is_active": True,
        "cache_age_seconds": 3600,
        "is_materialized": False,
        "materialization": {"can_materialize": True, "reason": None},
        "current_version": 2,
        "versions_count": 2,
        "endpoint_path": f"/api/projects/{PROJECT}/endpoints/{name}/run",
        "url": f"{HOST}/api/projects/{PROJECT}/endpoints/{name}/run",
        "ui_url": f"{HOST}/project/{PROJECT}/endpoints/{name}",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-02T00:00:00.123+00:00",
        "created_by": {"id": 1, "email": "a@example.com"},
        "last_executed_at": None,
        "some_future_key": {"ignored": True},
    }
    body.update(overrides)
    return body


def run_json(
    rows: list, *, has_more: bool = False, offset: int = 0, limit: int = 100, version: int = 2, **extra
) -> dict:
    body = {
        "results": rows,
        "columns": ["day", "signups"],
        "types": [["day", "Date"], ["signups", "UInt64"]],
        "hasMore": has_more,
        "limit": limit,
        "offset": offset,
        "is_cached": False,
        "cache_key": "ck",
        "last_refresh": "2026-11-20T08:00:00Z",
        "timezone": "UTC",
        "query_status": None,
        "name": "daily_signups",
        "_version": version,
        "_version_created_at": "2026-01-02T00:00:00+00:00",
    }
    body.update(extra)
    return body


def status_json(query_id: str, *, complete: bool = False, error: bool = False, results=None, **extra) -> dict:
    status = {
        "id": query_id,
        "team_id": 1,
        "query_async": True,
        "complete": complete,
        "error": error,
        "error_message": extra.pop("error_message", None),
        "results": results,
        "start_time": "2026-11-20T08:00:00Z",
        "end_time": "2026-11-20T08:00:02.5Z" if complete else None,
        "query_progress": {
            "rows_read": 10,
            "bytes_read": 100,
            "estimated_rows_total": 50,
            "time_elapsed": 0.5,
            "active_cpu_time": 0.1,
        },
    }
    status.update(extra)
    return {"query_status": status}


def request_body(call) -> dict:
    """The JSON body a recorded respx call sent ({} for a request without one)."""
    return json.loads(call.request.content) if call.request.content else {}
