"""Op names of endpoint steps: unique per asset key, readable in the UI."""

from __future__ import annotations

import dagster as dg

from endpoints_dagster import PostHogEndpointsResource, PostHogEndpointsTranslator, build_endpoint_assets


def test_the_same_endpoint_under_two_key_prefixes_loads_in_one_code_location():
    # Two PostHog projects (prod and staging) with the same endpoint names, told apart by key
    # prefix: their steps need distinct op names, or the location fails to load.
    prod = build_endpoint_assets(
        ["top_events", "daily_signups"], translator=PostHogEndpointsTranslator(key_prefix=("prod",))
    )
    staging = build_endpoint_assets(
        ["top_events", "daily_signups"],
        translator=PostHogEndpointsTranslator(key_prefix=("staging",)),
        resource_key="posthog_staging",
    )
    resource = PostHogEndpointsResource(
        host="http://127.0.0.1:1", project_id="1", personal_api_key="phx_unused"
    )
    defs = dg.Definitions(
        assets=[*prod, *staging], resources={"posthog": resource, "posthog_staging": resource}
    )
    job = defs.resolve_implicit_global_asset_job_def()
    assert {n.name for n in job.graph.node_defs} == {prod[0].op.name, staging[0].op.name}
    assert prod[0].op.name != staging[0].op.name
    # Still readable: the names say which endpoints run.
    assert "top_events" in prod[0].op.name and "prod" in prod[0].op.name
