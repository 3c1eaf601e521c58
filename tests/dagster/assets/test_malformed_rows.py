"""Rows that cannot become a DataFrame fail their endpoint only; the others of the step still land."""

from __future__ import annotations

import dagster as dg
import respx

from endpoints_dagster import PostHogEndpointsResource, build_endpoint_assets

HOST = "https://posthog.example.com"


def run_json(name: str, rows: list[list]) -> dict:
    return {
        "results": rows,
        "columns": ["a", "b"],
        "types": [["a", "UInt8"], ["b", "String"]],
        "hasMore": False,
        "is_cached": False,
        "name": name,
        "_version": 1,
        "query_status": None,
    }


@respx.mock(assert_all_called=False)
def test_a_malformed_result_fails_only_its_endpoint(respx_mock):
    base = f"{HOST}/api/projects/1/endpoints"
    respx_mock.post(f"{base}/good/run/").respond(json=run_json("good", [[1, "x"], [2, "y"]]))
    respx_mock.post(f"{base}/bad/run/").respond(json=run_json("bad", [[1]]))  # one value for two columns
    posthog = PostHogEndpointsResource(host=HOST, project_id="1", personal_api_key="phx_test", max_retries=0)

    result = dg.materialize(
        build_endpoint_assets(["good", "bad"]), resources={"posthog": posthog}, raise_on_error=False
    )

    assert not result.success
    landed = {e.asset_key for e in result.all_events if e.is_step_materialization}
    assert landed == {dg.AssetKey(["posthog", "good"])}
    message = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error.message
    assert "1 of 2" in message and "bad" in message
