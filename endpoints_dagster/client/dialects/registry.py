"""The client's dialects by name, and the two shared instances."""

from __future__ import annotations

from endpoints_dagster.client.dialects.base import Dialect
from endpoints_dagster.client.dialects.current import CurrentDialect
from endpoints_dagster.client.dialects.documented import DocumentedDialect

DOCUMENTED = DocumentedDialect()
CURRENT = CurrentDialect()
DIALECTS: dict[str, Dialect] = {"documented": DOCUMENTED, "current": CURRENT}
