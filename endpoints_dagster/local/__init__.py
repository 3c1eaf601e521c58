"""A local PostHog Endpoints server: the documented API on an embedded ClickHouse (chDB).

It is a peer of PostHog, not part of the integration: it imports nothing from the rest of
``endpoints_dagster`` and nothing there imports it. Start it with::

    python -m endpoints_dagster.local serve --port 0 --data .local-posthog --demo

or from Python (tests, the demo, benchmarks)::

    from endpoints_dagster.local.process import LocalServer
    with LocalServer(tmp_path) as server:
        httpx.get(f"{server.url}/api/projects/1/endpoints/",
                  headers={"Authorization": f"Bearer {server.api_key}"})
"""
