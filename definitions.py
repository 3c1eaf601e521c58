"""The demo pipeline: PostHog endpoints as Dagster assets, landed in DuckDB.

Copy this file to start your own project. It reads the connection from environment variables
(`make demo` and `make dev` set them for the local PostHog Endpoints server):

    POSTHOG_HOST               e.g. https://us.posthog.com (the local server: http://127.0.0.1:PORT)
    POSTHOG_PROJECT_ID         the project id
    POSTHOG_PERSONAL_API_KEY   a personal API key with the endpoint:read scope (endpoint:write too for
                               the assets of demo_endpoints/, which deploy their file when materialized)
    DEMO_DUCKDB_PATH           where tables land (default: data/demo.duckdb)
"""

import os
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb_pandas import DuckDBPandasIOManager
from dagster_duckdb_polars import DuckDBPolarsIOManager

from endpoints_dagster import (
    EndpointSpec,
    PartitionVariables,
    PostHogEndpointsResource,
    build_endpoint_assets,
    build_endpoint_execution_sensor,
    load_endpoint_file_specs,
)

daily = dg.DailyPartitionsDefinition(start_date="2026-09-01", end_offset=0)

posthog_assets = build_endpoint_assets(
    [
        # Daily partitions: each day's window becomes the `since`/`until` variables, and the
        # DuckDB IO manager replaces exactly that day's rows (`partition_expr`).
        EndpointSpec(
            "daily_signups",
            partitions_def=daily,
            partition_variables=PartitionVariables(start="since", end="until"),
            metadata={"partition_expr": "day"},
        ),
        # Endpoints as code: these two are files in demo_endpoints/ (docs/endpoints-as-code.md).
        # Editing a file shows its asset stale; materializing deploys the file, then runs it.
        # Fixed variables override the saved defaults.
        *load_endpoint_file_specs(
            os.environ.get("DEMO_ENDPOINTS_DIR", Path(__file__).parent / "demo_endpoints"),
            endpoints={
                "revenue_by_country": {"variables": {"plan": "pro"}},
                "top_events": {"variables": {"min_count": 50}},
            },
        ),
        EndpointSpec("signup_to_purchase_funnel", variables={"since": "2026-09-01"}),
        # The saved defaults.
        "weekly_active_users",
        # Pinned to a version: later edits of the endpoint in PostHog do not change this asset.
        # Landed as a Polars frame (built from Arrow pages) through DuckDB's Polars IO manager.
        EndpointSpec(
            "feature_usage_by_plan",
            version=1,
            frame_type="polars",
            metadata={"dagster/io_manager_key": "polars_io_manager"},
        ),
    ],
    max_concurrency=8,
)


@dg.asset(
    group_name="reports",
    kinds={"pandas"},
    ins={
        "revenue": dg.AssetIn(key=["posthog", "revenue_by_country"]),
        "funnel": dg.AssetIn(key=["posthog", "signup_to_purchase_funnel"]),
        "top_events": dg.AssetIn(key=["posthog", "top_events"]),
        "wau": dg.AssetIn(key=["posthog", "weekly_active_users"]),
    },
)
def kpi_report(
    context: dg.AssetExecutionContext,
    revenue: pd.DataFrame,
    funnel: pd.DataFrame,
    top_events: pd.DataFrame,
    wau: pd.DataFrame,
) -> pd.DataFrame:
    """A one-row KPI summary computed from the endpoint tables."""
    purchased = funnel.loc[funnel["name"] == "Purchased", "conversion"]
    report = pd.DataFrame(
        {
            "pro_revenue_usd": [float(revenue["revenue"].sum())],
            "top_country": [str(revenue.iloc[0]["country"]) if not revenue.empty else ""],
            "top_event": [str(top_events.iloc[0]["event"]) if not top_events.empty else ""],
            "visit_to_purchase": [float(purchased.iloc[0]) if not purchased.empty else 0.0],
            "latest_weekly_active_users": [
                int(wau.sort_values("week").iloc[-1]["active_users"]) if not wau.empty else 0
            ],
        }
    )
    context.add_output_metadata({"preview": dg.MetadataValue.md(report.to_markdown(index=False))})
    return report


daily_signups_job = dg.define_asset_job(
    "daily_signups_job",
    selection=dg.AssetSelection.assets(["posthog", "daily_signups"]),
    partitions_def=daily,
)

# When a dashboard or an app executes `revenue_by_country` in PostHog, rebuild the report
# from fresh endpoint data. Runs that Dagster itself made do not trigger it.
kpi_report_job = dg.define_asset_job(
    "kpi_report_job",
    selection=dg.AssetSelection.assets(["posthog", "revenue_by_country"], "kpi_report"),
)
revenue_executed_sensor = build_endpoint_execution_sensor(
    ["revenue_by_country"],
    job=kpi_report_job,
    name="revenue_by_country_executed",
    minimum_interval_seconds=60,
)

# Only one module-level Definitions may exist, so the hand-written part stays a dict until merged.
handwritten = dict(
    assets=[*posthog_assets, kpi_report],
    jobs=[daily_signups_job, kpi_report_job],
    sensors=[revenue_executed_sensor],
    schedules=[
        dg.build_schedule_from_partitioned_job(
            daily_signups_job, hour_of_day=1, name="daily_signups_schedule"
        ),
    ],
    resources={
        "posthog": PostHogEndpointsResource(
            host=dg.EnvVar("POSTHOG_HOST"),
            project_id=dg.EnvVar("POSTHOG_PROJECT_ID"),
            personal_api_key=dg.EnvVar("POSTHOG_PERSONAL_API_KEY"),
        ),
        "io_manager": DuckDBPandasIOManager(
            database=os.environ.get("DEMO_DUCKDB_PATH", "data/demo.duckdb"), schema="analytics"
        ),
        "polars_io_manager": DuckDBPolarsIOManager(
            database=os.environ.get("DEMO_DUCKDB_PATH", "data/demo.duckdb"), schema="analytics"
        ),
    },
)

# Every other endpoint of the project comes from the component in demo_defs/, built from the
# endpoint list that `dg utils refresh-defs-state` saved. Loading it makes no network call.
defs = dg.Definitions.merge(
    dg.Definitions(**handwritten), dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
)
