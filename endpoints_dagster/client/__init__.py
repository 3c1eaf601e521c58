"""The PostHog Endpoints API client: plain Python on httpx, no Dagster.

`client.EndpointsClient` has one method per route; `http` sends requests and types errors, `retry` decides
what is retried, `watchdog` ends body reads at a call's deadline, `runs/` waits for, pages and cancels one
run, `dialects/` speaks both API dialects.
"""
