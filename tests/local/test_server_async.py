"""Async runs over HTTP: query status, progress, cancellation, the worker pool, retried ids.

Long queries are made with the latency knob (a cancellable wait inside the worker), so
"the worker stops" is observable: the execution record ends ``cancelled`` and the pool's
running count drops to zero. Waits are bounded polls, never timing assertions.
"""

from __future__ import annotations

import threading

import httpx

STATUS_KEYS = {
    "id",
    "team_id",
    "query_async",
    "complete",
    "error",
    "error_message",
    "results",
    "start_time",
    "pickup_time",
    "end_time",
    "expiration_time",
    "task_id",
    "query_progress",
}


def start(client: httpx.Client, name: str, query_id: str, **body) -> httpx.Response:
    return client.post(
        f"endpoints/{name}/run/", json={"refresh": "force_async", "client_query_id": query_id, **body}
    )


def test_async_status_lifecycle(local_client, endpoint_factory, server_control, wait_until):
    name = endpoint_factory("SELECT count() AS n FROM events")
    server_control.set_knobs(latency_by_endpoint={name: 30})
    r = start(local_client, name, f"{name}-q")
    assert r.status_code == 202
    status = r.json()["query_status"]
    assert set(status) >= STATUS_KEYS
    assert (status["id"], status["team_id"], status["query_async"], status["complete"], status["error"]) == (
        f"{name}-q",
        1,
        True,
        False,
        False,
    )

    running = wait_until(
        lambda: (
            (s := local_client.get(f"query/{name}-q/", params={"show_progress": "true"})).json()[
                "query_status"
            ]["query_progress"]
            and s.json()["query_status"]["query_progress"]["rows_read"] > 0
            and s
        )
    )
    assert running.status_code == 202
    progress = running.json()["query_status"]["query_progress"]
    assert set(progress) == {
        "rows_read",
        "bytes_read",
        "estimated_rows_total",
        "time_elapsed",
        "active_cpu_time",
    }
    assert local_client.get(f"query/{name}-q/").json()["query_status"]["query_progress"] is None

    server_control.set_knobs(latency_by_endpoint={})  # the next run of the endpoint is quick
    done_id = f"{name}-done"
    start(local_client, name, done_id)
    done = wait_until(lambda: (s := local_client.get(f"query/{done_id}/")).status_code == 200 and s)
    result = done.json()["query_status"]
    assert (
        result["complete"] is True
        and result["error"] is False
        and result["end_time"]
        and result["expiration_time"]
    )
    assert result["results"]["results"] == [[20_000]] and result["results"]["_version"] == 1
    assert result["results"]["columns"] == ["n"] and "cache_key" in result["results"]
    local_client.delete(f"query/{name}-q/")


def test_unknown_query_id_is_404(local_client: httpx.Client):
    r = local_client.get("query/never-seen-this-id/")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_cancel_stops_the_worker(local_client, endpoint_factory, server_control, wait_until):
    name = endpoint_factory("SELECT count() AS n FROM events")
    server_control.set_knobs(latency_by_endpoint={name: 600})
    qid = f"{name}-cancel"
    start(local_client, name, qid)
    server_control.wait_for_execution(qid, statuses=("running",))
    r = local_client.delete(f"query/{qid}/")
    assert r.status_code == 200 and r.json() == {"message": "Query task revoked"}
    record = server_control.wait_for_execution(qid, statuses=("cancelled", "completed", "failed"), timeout=10)
    assert record["status"] == "cancelled" and record["finished_at"]
    assert wait_until(lambda: server_control.stats()["running_executions"] == 0, timeout=10)
    status = local_client.get(f"query/{qid}/")
    assert status.status_code == 400
    assert (
        status.json()["query_status"]["error"] is True
        and "cancel" in status.json()["query_status"]["error_message"].lower()
    )
    assert [e["status"] for e in server_control.execution_log(qid)] == ["cancelled"]


def test_cancel_a_completed_query_says_so(local_client, endpoint_factory, wait_until):
    name = endpoint_factory("SELECT 1 AS one")
    start(local_client, name, f"{name}-c")
    wait_until(lambda: local_client.get(f"query/{name}-c/").status_code == 200)
    assert local_client.delete(f"query/{name}-c/").json() == {"message": "Query already complete"}
    assert local_client.get(f"query/{name}-c/").status_code == 200


def test_cancel_a_blocking_run_answers_400(local_server, endpoint_factory, server_control):
    name = endpoint_factory("SELECT count() AS n FROM events")
    server_control.set_knobs(latency_by_endpoint={name: 600})
    qid = f"{name}-sync"
    answer: dict[str, httpx.Response] = {}

    def blocking_run() -> None:
        with httpx.Client(
            base_url=f"{local_server.url}/api/projects/1/", headers=local_server.headers, timeout=60
        ) as c:
            answer["r"] = c.post(f"endpoints/{name}/run/", json={"client_query_id": qid})

    thread = threading.Thread(target=blocking_run)
    thread.start()
    server_control.wait_for_execution(qid, statuses=("running",))
    with httpx.Client(base_url=f"{local_server.url}/api/projects/1/", headers=local_server.headers) as c:
        assert c.delete(f"query/{qid}/").status_code == 200
    thread.join(30)
    assert answer["r"].status_code == 400 and answer["r"].json()["code"] == "query_cancelled"
    assert server_control.executions(client_query_id=qid)[0]["status"] == "cancelled"


def test_same_id_while_running_and_after_completion_runs_once(
    local_client, endpoint_factory, server_control, wait_until
):
    name = endpoint_factory("SELECT count() AS n FROM events")
    server_control.set_knobs(latency_by_endpoint={name: 600})
    qid = f"{name}-dup"
    first, second = start(local_client, name, qid), start(local_client, name, qid)
    assert first.status_code == second.status_code == 202
    assert first.json()["query_status"]["task_id"] == second.json()["query_status"]["task_id"]
    assert len(server_control.executions(client_query_id=qid)) == 1

    local_client.delete(f"query/{qid}/")
    server_control.wait_for_execution(qid, statuses=("cancelled",))
    server_control.set_knobs(latency_by_endpoint={})
    retried = start(local_client, name, qid)  # a cancelled id may run again
    assert retried.status_code == 202 and retried.json()["query_status"]["complete"] is False
    wait_until(lambda: local_client.get(f"query/{qid}/").status_code == 200)
    after = start(local_client, name, qid)
    assert after.status_code == 200 and after.json()["results"] == [[20_000]]
    assert [e["status"] for e in server_control.executions(client_query_id=qid)] == ["cancelled", "completed"]


def test_worker_pool_bounds_concurrency(local_client, endpoint_factory, server_control, wait_until):
    name = endpoint_factory("SELECT 1 AS one")
    server_control.set_knobs(latency_by_endpoint={name: 600})
    ids = [f"{name}-{i}" for i in range(7)]
    for qid in ids:
        assert start(local_client, name, qid).status_code == 202
    wait_until(lambda: server_control.stats()["running_executions"] == 4)
    statuses = [e["status"] for e in server_control.executions(endpoint=name)]
    assert statuses.count("running") == 4 and statuses.count("queued") == 3
    queued = [
        e["client_query_id"] for e in server_control.executions(endpoint=name) if e["status"] == "queued"
    ]
    local_client.delete(f"query/{queued[0]}/")
    status = local_client.get(f"query/{queued[0]}/")
    assert status.status_code == 400, "a queued query is cancelled at once, not when a worker frees up"
    assert server_control.executions(client_query_id=queued[0])[0]["status"] == "cancelled"
    for qid in ids:
        local_client.delete(f"query/{qid}/")
    wait_until(lambda: all(e["status"] == "cancelled" for e in server_control.executions(endpoint=name)))
    assert server_control.stats()["max_concurrent_executions"] == 4
