"""The demo endpoints ``serve --demo`` creates: realistic HogQL over the generated ``events``.

Each entry is a create body for ``POST /api/projects/{id}/endpoints/``. Variable ids are fixed
(uuid5 of endpoint and code name) so the demo is the same on every start; date defaults are
relative to the day the data ends (``today``), so they always fall inside the generated window.

- ``daily_signups``: signups per day between ``since`` and ``until`` (exclusive): the shape a
  daily-partitioned asset maps its partition key to;
- ``top_events``: event volume and unique persons, events with at least ``min_count``,
  narrowed by ``{filters}`` (``filters_override``);
- ``revenue_by_country``: purchases and revenue per country for one ``plan``;
- ``signup_to_purchase_funnel``: a four-step ordered funnel (ClickHouse ``windowFunnel``);
- ``weekly_active_users``: distinct active persons per week since ``since``;
- ``feature_usage_by_plan``: feature use per plan; no variables, so it is materialized.

>>> [e["name"] for e in demo_endpoints(date(2026, 1, 1))][:2]
['daily_signups', 'top_events']
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

_NAMESPACE = uuid.UUID("6f1c3a52-7d4e-4b8a-9c1e-2a5b7d9e0f13")


def variable_id(endpoint: str, code_name: str) -> str:
    """The fixed variable id of ``code_name`` in demo endpoint ``endpoint``."""
    return str(uuid.uuid5(_NAMESPACE, f"{endpoint}.{code_name}"))


def _body(name: str, description: str, query: str, variables: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "query": {
            "kind": "HogQLQuery",
            "query": " ".join(query.split()),
            "variables": {
                variable_id(name, code): {
                    "variableId": variable_id(name, code),
                    "code_name": code,
                    "value": value,
                }
                for code, value in variables.items()
            },
        },
        **extra,
    }


def demo_endpoints(today: date | None = None) -> list[dict[str, Any]]:
    """The demo create bodies, with date defaults relative to ``today`` (UTC today by default)."""
    today = today or datetime.now(timezone.utc).date()
    month_ago = (today - timedelta(days=30)).isoformat()
    return [
        _body(
            "daily_signups",
            "Signups per day in [since, until). Map a daily partition to since=day, until=day+1.",
            """SELECT toDate(timestamp) AS day, count() AS signups
               FROM events
               WHERE event = 'signup' AND timestamp >= {variables.since} AND timestamp < {variables.until}
               GROUP BY day ORDER BY day""",
            {"since": month_ago, "until": (today + timedelta(days=1)).isoformat()},
            cache_age_seconds=3600,
        ),
        _body(
            "top_events",
            "Event volume and unique persons, for events seen at least min_count times; honours filters_override.",
            """SELECT event, count() AS events, uniq(person_id) AS persons
               FROM events
               WHERE {filters}
               GROUP BY event
               HAVING events >= {variables.min_count}
               ORDER BY events DESC""",
            {"min_count": 100},
        ),
        _body(
            "revenue_by_country",
            "Purchases and revenue (USD) per country for customers on one plan (starter, pro, enterprise).",
            """SELECT properties.$geoip_country_code AS country,
                      count() AS purchases,
                      round(sum(toFloat(properties.revenue)), 2) AS revenue
               FROM events
               WHERE event = 'purchase' AND properties.plan = {variables.plan}
               GROUP BY country
               ORDER BY revenue DESC""",
            {"plan": "pro"},
            cache_age_seconds=21600,
        ),
        _body(
            "signup_to_purchase_funnel",
            "Ordered funnel within 14 days: visited the site, signed up, used a feature, purchased.",
            """SELECT step,
                      ['Visited site', 'Signed up', 'Used a feature', 'Purchased'][step] AS name,
                      count() AS persons,
                      round(persons / max(persons) OVER (), 4) AS conversion
               FROM (
                   SELECT person_id,
                          windowFunnel(1209600)(toDateTime(timestamp), event = '$pageview', event = 'signup',
                                                event = 'feature_used', event = 'purchase') AS level
                   FROM events
                   WHERE timestamp >= {variables.since}
                   GROUP BY person_id
               )
               ARRAY JOIN range(1, level + 1) AS step
               GROUP BY step
               ORDER BY step""",
            {"since": month_ago},
        ),
        _body(
            "weekly_active_users",
            "Distinct persons with any event, per week (weeks start on Monday), since a date.",
            """SELECT toStartOfWeek(timestamp, 1) AS week, uniq(person_id) AS active_users, count() AS events
               FROM events
               WHERE timestamp >= {variables.since}
               GROUP BY week ORDER BY week""",
            {"since": (today - timedelta(days=84)).isoformat()},
        ),
        _body(
            "feature_usage_by_plan",
            "How often each feature is used, and by how many persons, per plan. Materialized.",
            """SELECT properties.plan AS plan, properties.feature AS feature,
                      count() AS uses, uniq(person_id) AS users
               FROM events
               WHERE event = 'feature_used'
               GROUP BY plan, feature
               ORDER BY plan, uses DESC""",
            {},
            is_materialized=True,
        ),
        _body(
            "events_by_browser",
            "Events and persons per browser since a date.",
            """SELECT properties.$browser AS browser, count() AS events, uniq(person_id) AS persons
               FROM events
               WHERE timestamp >= {variables.since}
               GROUP BY browser ORDER BY events DESC""",
            {"since": month_ago},
        ),
    ]


DEMO_ENDPOINTS: list[dict[str, Any]] = demo_endpoints()
"""The demo bodies with dates relative to the UTC day this module was imported."""
