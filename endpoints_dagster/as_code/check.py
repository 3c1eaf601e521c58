"""Check: run every file's query against a server with its default variables, before it serves.

Each query runs as it would be deployed, through a short-lived scratch endpoint
(``check-<random>-<name>``, created, run once with ``force_blocking``, deleted), so nothing
that serves traffic changes. The caller's key needs ``endpoint:write``. A file's ``expect``
(columns, at least N rows) is checked on the result.

In a test suite, against a local or staging server::

    def test_endpoint_files(posthog_client):
        check_endpoint_files("endpoints/", posthog_client)   # raises EndpointCheckError listing failures
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.client.errors import PostHogEndpointsError
from endpoints_dagster.client.models import RunResult

from .files import EndpointFile, load_endpoint_files
from .plan import desired_query

__all__ = ["CheckResult", "EndpointCheckError", "check_endpoint_files", "check_file"]


class EndpointCheckError(AssertionError):
    """One or more endpoint files failed their check; ``results`` holds every file's outcome."""

    def __init__(self, results: Sequence[CheckResult]) -> None:
        self.results = list(results)
        failed = [r for r in self.results if not r.ok]
        super().__init__(
            f"{len(failed)} of {len(self.results)} endpoint file(s) failed their check:\n"
            + "\n".join(f"  {r}" for r in failed)
        )


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one file: ``problem`` is ``None`` when the query ran and met its expectations."""

    file: EndpointFile
    problem: str | None = None
    rows: int | None = None
    columns: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.problem is None

    def __str__(self) -> str:
        where = f"{self.file.path}:{self.file.query_line}"
        if self.ok:
            return f"{where}: ok, {self.rows} row(s), columns {', '.join(self.columns)}"
        return f"{where}: {self.problem}"


def _expectation_problem(file: EndpointFile, result: RunResult) -> str | None:
    expect = file.expect
    if expect is None:
        return None
    types = dict(result.types)
    wanted = expect.columns or ()
    missing = [name for name in wanted if name not in types]
    if missing:
        returned = ", ".join(result.columns) or "none"
        return f"expected column(s) {', '.join(missing)}; the query returns {returned}"
    if isinstance(wanted, dict):
        wrong = [f"{n} is {types[n]}, expected {t}" for n, t in wanted.items() if types[n] != t]
        if wrong:
            return "column types differ: " + "; ".join(wrong)
    rows = len(result.results)
    if expect.min_rows is not None and rows < expect.min_rows:
        return f"expected at least {expect.min_rows} row(s) with the default variables, got {rows}"
    return None


def check_file(file: EndpointFile, client: EndpointsClient) -> CheckResult:
    """Run one file's query through a scratch endpoint; the scratch endpoint is deleted whatever happens."""
    scratch = f"check-{uuid.uuid4().hex[:8]}-{file.name}"[:128]
    try:
        client.create_endpoint(scratch, desired_query(file), description=f"scratch check of {file.name}")
    except PostHogEndpointsError as exc:  # PostHog today validates the query at create
        return CheckResult(file, f"PostHog refused the query: {exc}")
    try:
        result = client.run_endpoint(scratch, refresh="force_blocking")
    except PostHogEndpointsError as exc:
        return CheckResult(
            file, f"the query failed with its default variables: {exc}".replace(scratch, file.name)
        )
    finally:
        try:
            client.delete_endpoint(scratch)
        except PostHogEndpointsError:
            pass  # the check's verdict matters more than a leftover scratch endpoint, which is named as such
    columns = tuple(result.columns)
    return CheckResult(file, _expectation_problem(file, result), len(result.results), columns)


def check_endpoint_files(
    files: str | Path | Sequence[EndpointFile], client: EndpointsClient, *, raise_on_failure: bool = True
) -> list[CheckResult]:
    """Check every file of a folder (or the given files); raise :class:`EndpointCheckError` if any fails.

    Example::

        results = check_endpoint_files("endpoints/", client, raise_on_failure=False)
        [str(r) for r in results if not r.ok]
    """
    loaded = load_endpoint_files(files) if isinstance(files, (str, Path)) else list(files)
    results = [check_file(file, client) for file in loaded]
    if raise_on_failure and not all(result.ok for result in results):
        raise EndpointCheckError(results)
    return results
