"""The local server's API dialects by name: the one registry the CLI and the app read."""

from __future__ import annotations

from endpoints_dagster.local.dialects.current import CurrentDialect
from endpoints_dagster.local.dialects.documented import Dialect

DIALECTS: dict[str, type[Dialect]] = {"documented": Dialect, "current": CurrentDialect}


def get_dialect(name: str) -> Dialect:
    """A fresh dialect object for ``name`` (``documented`` or ``current``)."""
    try:
        return DIALECTS[name]()
    except KeyError:
        raise ValueError(f"unknown dialect {name!r}; known: {', '.join(DIALECTS)}") from None
