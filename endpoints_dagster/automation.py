"""`endpoint_data_changed()`: run a downstream asset only when an endpoint parent's rows changed.

Endpoint assets report a data version of their result (see `build_endpoint_assets`), and so do the
observations of `build_endpoint_observations`. A scheduled refresh that returns the same rows
records the same version; this condition ignores it, where `AutomationCondition.eager()` would run
the downstream asset after every refresh.
"""

from __future__ import annotations

from typing import Any, Optional

import dagster as dg

__all__ = ["endpoint_data_changed"]


def endpoint_data_changed(parents: Optional[dg.AssetSelection] = None) -> dg.AutomationCondition[Any]:
    """True for an asset when the data version of a parent changed since the previous evaluation.

    Built from Dagster's public conditions: some parent's `data_version_changed()` (a new
    materialization or observation whose data version differs from the one before), while neither
    the asset nor any parent is in progress. Each change requests one run; the first evaluation
    (nothing to compare with yet) requests none.

    Args:
        parents: Only these parents count (for example `dg.AssetSelection.kind("posthog")`, the
            endpoint assets); by default every parent does. A parent that reports no data version
            of its own gets a new one from Dagster on every materialization, so it counts as
            changed each time.

    Example:
        .. code-block:: python

            from endpoints_dagster import build_endpoint_assets, endpoint_data_changed

            posthog_assets = build_endpoint_assets(["revenue_by_country"])

            @dg.asset(
                deps=[dg.AssetKey(["posthog", "revenue_by_country"])],
                automation_condition=endpoint_data_changed(),
            )
            def revenue_report() -> None: ...
    """
    changed = dg.AutomationCondition.any_deps_match(dg.AutomationCondition.data_version_changed())
    if parents is not None:
        changed = changed.allow(parents)
    condition = (
        changed & ~dg.AutomationCondition.in_progress() & ~dg.AutomationCondition.any_deps_in_progress()
    )
    return condition.with_label("endpoint_data_changed")
