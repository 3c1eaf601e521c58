"""Materialization metadata and the schema-drift comparison.

Standard Dagster keys (`dagster/row_count`, `dagster/column_schema`) make the UI's table
views work; the `posthog/...` keys say what ran and where to find it in PostHog.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

import dagster as dg
import pandas as pd

from endpoints_dagster.as_code.deploy import Deployment
from endpoints_dagster.client.models import Endpoint, RunResult, parse_datetime

PREVIEW_ROWS = 10
MIN_PREVIEW_ROWS = 3
INLINE_MARKDOWN_CHARS = 1000
#: Longest cell text in the Markdown preview; long JSON or arrays would make the table unreadable.
PREVIEW_CELL_CHARS = 60


def column_schema(result: RunResult) -> dg.TableSchema:
    """The result's columns with their ClickHouse types, as a Dagster `TableSchema`."""
    types = dict((name, type_name) for name, type_name in (result.types or []))
    return dg.TableSchema(
        columns=[dg.TableColumn(name=name, type=types.get(name, "unknown")) for name in result.columns]
    )


def _pandas_head(frame: Any, rows: int) -> pd.DataFrame:
    """The first rows of a pandas, Polars or Arrow frame, as pandas (only they are rendered)."""
    if isinstance(frame, pd.DataFrame):
        return frame.head(rows)
    if hasattr(frame, "slice") and hasattr(frame, "schema") and hasattr(frame, "num_rows"):  # pyarrow
        return frame.slice(0, rows).to_pandas()
    return frame.head(rows).to_pandas()  # polars


def markdown_preview(frame: Any, rows: int = PREVIEW_ROWS) -> str:
    """The first rows (of a pandas, Polars or Arrow frame) as a Markdown table, cells shortened.

    Dagster's UI renders Markdown metadata inline only below about 1,000 characters (a button
    opens longer text), so a wide table shows fewer rows rather than disappear behind the button.
    """
    if len(frame) == 0:
        return "_no rows_"
    cells = _pandas_head(frame, rows).astype(object).map(_short_cell)
    shown = len(cells)
    table = cells.to_markdown(index=False)
    while len(table) > INLINE_MARKDOWN_CHARS and shown > MIN_PREVIEW_ROWS:
        shown = max(MIN_PREVIEW_ROWS, shown // 2)
        table = cells.head(shown).to_markdown(index=False)
    if len(frame) > shown:
        table += f"\n\n_{shown} of {len(frame):,} rows_"
    return table


def _short_cell(value: Any) -> str:
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= PREVIEW_CELL_CHARS else text[: PREVIEW_CELL_CHARS - 1] + "…"


def materialization_metadata(
    *,
    endpoint: str,
    result: RunResult,
    frame: Any,
    variables: Mapping[str, Any],
    refresh: str,
    ui_url: Optional[str],
) -> dict[str, Any]:
    """Everything the Dagster UI shows for one endpoint materialization."""
    metadata: dict[str, Any] = {
        "dagster/row_count": dg.MetadataValue.int(len(frame)),
        "dagster/column_schema": column_schema(result),
        "preview": dg.MetadataValue.md(markdown_preview(frame)),
        "posthog/endpoint": endpoint,
        "posthog/version": dg.MetadataValue.int(result.endpoint_version)
        if result.endpoint_version is not None
        else dg.MetadataValue.null(),
        "posthog/refresh": refresh,
        "posthog/is_cached": dg.MetadataValue.bool(bool(result.is_cached)),
        "posthog/query_id": result.query_id or "",
        "posthog/total_duration_s": dg.MetadataValue.float(round(result.total_duration or 0.0, 3)),
        "posthog/pages": dg.MetadataValue.int(result.pages or 1),
        "posthog/variables": dg.MetadataValue.json(_jsonable(dict(variables))),
    }
    if result.server_duration is not None:
        metadata["posthog/server_duration_s"] = dg.MetadataValue.float(round(result.server_duration, 3))
    if result.last_refresh is not None:
        metadata["posthog/last_refresh"] = dg.MetadataValue.timestamp(result.last_refresh)
    if ui_url:
        metadata["posthog/url"] = dg.MetadataValue.url(ui_url)
    return metadata


def materialized_metadata(result: RunResult, endpoint: Optional[Endpoint]) -> dict[str, Any]:
    """`posthog/materialized` (whether the run read the materialized table) and when it was built,
    for runs of endpoints asked to be materialized or that read a table; empty otherwise."""
    if endpoint is None and not result.endpoint_materialized:
        return {}
    metadata: dict[str, Any] = {"posthog/materialized": dg.MetadataValue.bool(result.endpoint_materialized)}
    state = (endpoint.materialization if endpoint is not None else None) or {}
    if state.get("status"):
        metadata["posthog/materialization_status"] = str(state["status"])
    built = parse_datetime(result.raw.get("endpoint_materialized_at") or state.get("last_materialized_at"))
    if built is not None:
        metadata["posthog/last_materialized_at"] = dg.MetadataValue.timestamp(built)
    return metadata


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v)
        for k, v in values.items()
    }


def schema_changes(previous: Optional[dg.TableSchema], current: dg.TableSchema) -> list[str]:
    """Human-readable differences between two schemas; empty when they match."""
    if previous is None:
        return []
    before = {c.name: c.type for c in previous.columns}
    after = {c.name: c.type for c in current.columns}
    changes = [f"column `{name}` removed (was {before[name]})" for name in before if name not in after]
    changes += [f"column `{name}` added ({after[name]})" for name in after if name not in before]
    changes += [
        f"column `{name}` changed type: {before[name]} -> {after[name]}"
        for name in after
        if name in before and before[name] != after[name]
    ]
    if not changes and list(before) != list(after):
        changes.append(f"column order changed: {', '.join(before)} -> {', '.join(after)}")
    return changes


def recorded_schemas(
    instance: dg.DagsterInstance, key: dg.AssetKey, limit: int = 1
) -> list[Optional[dg.TableSchema]]:
    """The column schemas recorded by the asset's latest `limit` materializations, newest first."""
    records = instance.fetch_materializations(key, limit=limit).records
    schemas: list[Optional[dg.TableSchema]] = []
    for record in records:
        materialization = record.asset_materialization
        value = materialization.metadata.get("dagster/column_schema") if materialization else None
        schema = getattr(value, "schema", value)
        schemas.append(schema if isinstance(schema, dg.TableSchema) else None)
    return schemas


def previous_schema(instance: dg.DagsterInstance, key: dg.AssetKey) -> Optional[dg.TableSchema]:
    """The column schema recorded by the asset's latest materialization, if any."""
    schemas = recorded_schemas(instance, key)
    return schemas[0] if schemas else None


def drift_check_result(
    key: dg.AssetKey, check_name: str, previous: Optional[dg.TableSchema], current: dg.TableSchema
) -> dg.AssetCheckResult:
    changes = schema_changes(previous, current)
    description = (
        "no previous materialization to compare with"
        if previous is None
        else ("columns and types unchanged" if not changes else "; ".join(changes))
    )
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=check_name,
        passed=not changes,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={"changes": dg.MetadataValue.md("\n".join(f"- {c}" for c in changes) or "none")},
    )


def deployment_metadata(deployment: Deployment) -> dict[str, Any]:
    """What deploying an endpoint file changed, for the materialization that followed it.

    ``posthog/deployed_version`` is the version the run then executed; ``posthog/deploy`` says
    ``created``, ``new version``, ``settings`` or ``unchanged``; a changed query adds its diff.
    """
    metadata: dict[str, Any] = {
        "posthog/deployed_version": deployment.version,
        "posthog/deploy": deployment.action,
        "posthog/code_version": deployment.code_version,
    }
    changes = [*deployment.variable_changes]
    changes += [f"{key}: {old!r} -> {new!r}" for key, (old, new) in deployment.setting_changes.items()]
    if deployment.query_diff:
        metadata["posthog/query_diff"] = dg.MetadataValue.md(f"```diff\n{deployment.query_diff}\n```")
    if changes:
        metadata["posthog/changes"] = dg.MetadataValue.json(changes)
    return metadata
