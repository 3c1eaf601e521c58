"""`PostHogEndpointsResource`: Dagster configuration that builds an `EndpointsClient`.

The resource holds configuration only; every request goes through the client it builds, so
the same client works outside Dagster too. Each knob is a documented field, never an
environment variable read deep in the code.
"""

from __future__ import annotations

import logging
from typing import Literal, Optional

import dagster as dg
from pydantic import Field, field_validator

from endpoints_dagster.client.client import EndpointsClient

DEFAULT_HOST = "https://us.posthog.com"


class PostHogEndpointsResource(dg.ConfigurableResource):
    """Connection and behaviour settings for the PostHog Endpoints API.

    Example:
        .. code-block:: python

            import dagster as dg
            from endpoints_dagster import PostHogEndpointsResource

            posthog = PostHogEndpointsResource(
                host="https://eu.posthog.com",
                project_id=dg.EnvVar("POSTHOG_PROJECT_ID"),
                personal_api_key=dg.EnvVar("POSTHOG_PERSONAL_API_KEY"),
            )

            with posthog.get_client() as client:
                rows = client.run_endpoint("daily_signups", variables={"since": "2026-01-01"})
    """

    host: str = Field(
        default=DEFAULT_HOST,
        description=(
            "Base URL of the PostHog instance, e.g. https://us.posthog.com, https://eu.posthog.com "
            "or your self-hosted URL. Plain http:// is only accepted for loopback hosts unless "
            "`allow_insecure_http` is set."
        ),
    )
    project_id: str = Field(
        description=(
            "PostHog project id (the number in /project/<id>/ URLs): 12345 or '12345' "
            "(dg.EnvVar('POSTHOG_PROJECT_ID'))."
        ),
    )
    personal_api_key: str = Field(
        repr=False,
        description=(
            "Personal API key with the `endpoint:read` scope (and `endpoint:write` to create or "
            "change endpoints). Pass it as dg.EnvVar('POSTHOG_PERSONAL_API_KEY'); it never "
            "appears in logs, errors or metadata."
        ),
    )
    request_timeout: float = Field(
        default=30.0,
        description="Seconds to wait for one HTTP response before treating it as timed out.",
    )
    max_retries: int = Field(
        default=5,
        description=(
            "Retries for errors that can succeed on retry (429, 502/503/504, dropped connections, "
            "read timeouts). 400/401/403/404 are never retried."
        ),
    )
    retry_initial_wait: float = Field(
        default=0.5,
        description="First backoff, in seconds, before a retry; it doubles (with jitter) on each attempt.",
    )
    retry_max_wait: float = Field(
        default=30.0,
        description=(
            "Longest backoff, in seconds, between retries. A server's own hint (Retry-After, "
            "'Expected available in N seconds') is honoured as given."
        ),
    )
    poll_interval: float = Field(
        default=0.2,
        description="First wait, in seconds, between status checks of an async query; it grows.",
    )
    poll_max_interval: float = Field(
        default=5.0,
        description="Longest wait, in seconds, between status checks of an async query.",
    )
    run_timeout: float = Field(
        default=1800.0,
        description=(
            "Seconds one endpoint run may take, retries and polling included. On expiry the "
            "query is cancelled in PostHog and the run fails."
        ),
    )
    gateway_timeout: Optional[float] = Field(
        default=60.0,
        description=(
            "Seconds after which PostHog's gateway cuts a synchronous request (about 60 s). A 502/503/504 "
            "or dropped connection once a run was open for 0.9 x this is the endpoint outgrowing "
            "synchronous runs, not a blip: it is retried once, the query is cancelled, and the run fails "
            "saying to materialize the endpoint or narrow it. Quicker failures are retried as usual. "
            "None: no gateway (e.g. a self-hosted PostHog without one)."
        ),
    )
    max_rows: Optional[int] = Field(
        default=1_000_000,
        description=(
            "Refuse results larger than this many rows (paging stops and the run fails with "
            "the row count). None removes the guard."
        ),
    )
    page_size: int = Field(
        default=50_000,
        description="Rows requested per page when a result has more rows (PostHog caps at 50,000).",
    )
    api_dialect: Literal["auto", "documented", "current"] = Field(
        default="auto",
        description=(
            "Which PostHog Endpoints API the server speaks. 'current' is PostHog as deployed today "
            "(variables, refresh cache/force/direct, synchronous runs, data_freshness_seconds, paginated "
            "lists); 'documented' is the public reference API (and the local server's default). 'auto' "
            "assumes documented and switches for good the first time an answer shows the current API "
            "(at most one refused request per client, none after a list or read)."
        ),
    )
    keep_unsigned: bool = Field(
        default=False,
        description=(
            "Keep ClickHouse unsigned integer columns (UInt64 from count(), uniq()) unsigned in the "
            "assets' DataFrames. Off by default: they land as signed int64 (Int64 when nullable) when "
            "every value fits, so that subtracting two columns cannot wrap around. An EndpointSpec's "
            "keep_unsigned wins."
        ),
    )
    verify_ssl: bool = Field(default=True, description="Verify TLS certificates.")
    allow_insecure_http: bool = Field(
        default=False,
        description=(
            "Allow plain http:// to hosts other than localhost. Off by default because the "
            "API key would travel unencrypted."
        ),
    )

    @field_validator("project_id", mode="before")
    @classmethod
    def _project_id_as_text(cls, value: object) -> object:
        """Accept an int like the client does (Dagster config stores the id as text)."""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    def get_client(self, logger: logging.Logger | None = None) -> EndpointsClient:
        """Build an `EndpointsClient` from this configuration.

        Use it as a context manager so its connection pool is closed when done.
        """
        return EndpointsClient(
            host=self.host,
            project_id=self.project_id,
            api_key=self.personal_api_key,
            request_timeout=self.request_timeout,
            max_retries=self.max_retries,
            retry_initial_wait=self.retry_initial_wait,
            retry_max_wait=self.retry_max_wait,
            poll_interval=self.poll_interval,
            poll_max_interval=self.poll_max_interval,
            run_timeout=self.run_timeout,
            gateway_timeout=self.gateway_timeout,
            max_rows=self.max_rows,
            page_size=self.page_size,
            api_dialect=self.api_dialect,
            verify_ssl=self.verify_ssl,
            allow_insecure_http=self.allow_insecure_http,
            logger=logger,
        )
