"""The two dialects of the PostHog Endpoints API (docs/dialects.md), and how a client learns which one it talks to.

- **documented**: the public reference page (``variables_values``, six refresh modes including the
  async ones, ``cache_age_seconds``, ``versions/{n}/``, ``_version`` in run results).
- **current**: what PostHog deployments serve today (``variables``, refresh ``cache|force|direct``
  and runs that are always synchronous, ``data_freshness_seconds``, paginated lists,
  ``GET {name}/?version=N``, ``endpoint_version`` in run results, soft delete).

Each dialect is a small object (:class:`DocumentedDialect`, :class:`CurrentDialect`) that builds
request bodies and routes; ``state.DialectState`` is one client's choice between them.

``api_dialect="auto"`` starts by assuming the documented dialect (the default everywhere, and the
one the local server speaks unless told otherwise) and never spends a request on probing. It
learns from answers the client asked for anyway - an endpoint carrying ``data_freshness_seconds``,
a paginated list, a run result with ``endpoint_version``, a versions list that is an object - and
remembers the latest clear evidence. The memory is process-wide, per (host, project): Dagster
builds a new client for every asset step and sensor tick, and none of them should pay for a
lesson an earlier one learnt. A run whose documented body the server refuses (400 "Extra inputs
are not permitted", "Only sync modes are supported", a refusal naming ``variables_values``...)
switches to the current dialect and is resent once in the current shape; a second refusal is
raised as it is. So a current server refuses at most one request per process and project (one
per process that starts with a run; none when a list or a read came first).

Example::

    client = EndpointsClient(host, 1, key, api_dialect="current")
    client.run_endpoint("daily_signups", variables={"since": "2026-01-01"}, refresh="force_async")
    # sent: {"variables": {"since": "2026-01-01"}, "refresh": "force", "client_query_id": "<uuid4 hex>",
    #        "limit": 50000}
"""
