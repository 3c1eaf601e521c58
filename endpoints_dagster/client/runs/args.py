"""What a caller asks one run for: its arguments, and the refresh modes of the documented API."""

from __future__ import annotations

import dataclasses
from typing import Any

#: The client's "use your configured default" marker, distinct from ``None`` (which some fields take).
UNSET: Any = type("Unset", (), {"__repr__": lambda self: "<client default>"})()

#: The ``refresh`` values of the documented API (PostHog today takes ``CURRENT_REFRESH_MODES``).
DOCUMENTED_REFRESH_MODES = ("blocking", "async", "lazy_async", "force_blocking", "force_async", "force_cache")


@dataclasses.dataclass(frozen=True)
class RunArgs:
    """What the caller asked to run with; the same for every page of one run."""

    variables: dict[str, Any] | None = None
    filters_override: dict[str, Any] | None = None
    query_override: dict[str, Any] | None = None
    variables_override: dict[str, Any] | None = None
