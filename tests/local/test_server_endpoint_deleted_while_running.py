"""Races between a running query and changes to its endpoint."""

from __future__ import annotations


def test_a_query_finishing_after_its_endpoint_was_deleted_still_completes(
    local_client, endpoint_factory, server_control, wait_until
):
    # The query runs on; only its result cache belonged to the endpoint. It used to fail on the
    # cache's foreign key and answer a 500 with no message.
    name = endpoint_factory("SELECT count() AS n FROM events")
    server_control.set_knobs(latency_by_endpoint={name: 1.0})
    query_id = f"{name}-deleted-while-running"
    r = local_client.post(
        f"endpoints/{name}/run/", json={"refresh": "force_async", "client_query_id": query_id}
    )
    assert r.status_code == 202
    server_control.wait_for_execution(query_id, statuses=("running",))
    assert local_client.delete(f"endpoints/{name}/").status_code == 204
    done = wait_until(lambda: (s := local_client.get(f"query/{query_id}/")).status_code != 202 and s)
    assert done.status_code == 200, done.text[:300]
    assert done.json()["query_status"]["results"]["results"] == [[20_000]]
    assert local_client.post(f"endpoints/{name}/run/", json={}).status_code == 404
