"""Endpoint objects shaped like the API's answers, for state files without a server."""

from __future__ import annotations

from typing import Any, Optional

from endpoints_dagster.client.models import Endpoint
from endpoints_dagster.discovery.state import EndpointsState


def api_endpoint(
    name: str,
    hogql: str = "SELECT 1",
    *,
    variables: Optional[dict[str, Any]] = None,
    description: str = "",
    is_active: bool = True,
    current_version: int = 1,
) -> Endpoint:
    """An `Endpoint` parsed from a dict in the contract's shape (variables keyed by uuid)."""
    query: dict[str, Any] = {"kind": "HogQLQuery", "query": hogql, "variables": None}
    if variables:
        query["variables"] = {
            f"uuid-{code}": {"variableId": f"uuid-{code}", "code_name": code, "value": value}
            for code, value in variables.items()
        }
    return Endpoint.from_api(
        {
            "id": f"id-{name}",
            "name": name,
            "description": description,
            "query": query,
            "is_active": is_active,
            "current_version": current_version,
            "versions_count": current_version,
            "ui_url": f"http://posthog.example/project/1/endpoints/{name}",
        }
    )


DAILY_SQL = (
    "SELECT toDate(timestamp) AS day, count() AS signups FROM events WHERE event = 'signup' "
    "AND timestamp >= {variables.since} AND timestamp < {variables.until} GROUP BY day ORDER BY day"
)


def demo_state(project_id: str = "1") -> EndpointsState:
    """A small project: partitionable, static-keyed, plain and inactive endpoints."""
    return EndpointsState.from_endpoints(
        [
            api_endpoint(
                "daily_signups",
                DAILY_SQL,
                variables={"since": "2026-01-01", "until": "2026-02-01"},
                description="Signups per day.",
                current_version=2,
            ),
            api_endpoint(
                "revenue_by_country",
                "SELECT country, sum(amount) FROM purchases WHERE plan = {variables.plan} GROUP BY country",
                variables={"plan": "pro"},
            ),
            api_endpoint(
                "top_events", "SELECT event, count() AS n FROM events GROUP BY event ORDER BY n DESC"
            ),
            api_endpoint("retired_report", "SELECT 1", is_active=False),
        ],
        project_id=project_id,
        host="http://127.0.0.1:9",
    )
