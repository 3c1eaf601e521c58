"""``python -m endpoints_dagster plan|apply|export DIR``: endpoints as code from a terminal or CI.

The connection comes from ``POSTHOG_HOST``, ``POSTHOG_PROJECT_ID`` and
``POSTHOG_PERSONAL_API_KEY``; ``--host`` and ``--project-id`` override the first two, and
``--api-key-env NAME`` reads the key from another variable. The key itself is never a flag:
command lines are visible to other users of the machine and land in shell history.

Exit codes: ``plan`` 0 no changes, 2 changes to apply, 1 error (bad files, drift is not an
error for plan); ``apply`` and ``export`` 0 done, 1 error (drift without ``--overwrite-drift``).

Example::

    python -m endpoints_dagster plan endpoints/ --check-queries
    python -m endpoints_dagster apply endpoints/ --prune
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from endpoints_dagster.client.client import EndpointsClient
from endpoints_dagster.client.errors import PostHogEndpointsError

from .apply import apply_plan
from .check import check_endpoint_files
from .export import export_endpoints
from .files import EndpointFilesError, load_endpoint_files
from .lock import Lock
from .plan import build_plan

__all__ = ["EXIT_CHANGES", "EXIT_ERROR", "EXIT_OK", "build_parser", "main"]

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
DEFAULT_HOST = "https://us.posthog.com"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m endpoints_dagster",
        description="Endpoints as code: plan, apply and export a folder of PostHog endpoint files.",
        epilog="exit codes: plan 0 = no changes, 2 = changes, 1 = error; apply/export 0 = done, 1 = error",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("folder", type=Path, help="the folder of NAME.sql endpoint files")
    common.add_argument("--host", help=f"PostHog URL (default $POSTHOG_HOST, else {DEFAULT_HOST})")
    common.add_argument("--project-id", help="project id (default $POSTHOG_PROJECT_ID)")
    common.add_argument(
        "--api-key-env",
        default="POSTHOG_PERSONAL_API_KEY",
        metavar="NAME",
        help="environment variable holding the personal API key (default POSTHOG_PERSONAL_API_KEY)",
    )
    common.add_argument("--api-dialect", default="auto", choices=["auto", "documented", "current"])
    common.add_argument("--lock", type=Path, help="lock file (default FOLDER/endpoints.lock.json)")
    plan = sub.add_parser("plan", parents=[common], help="show what apply would change; change nothing")
    apply = sub.add_parser("apply", parents=[common], help="make PostHog match the folder")
    for command in (plan, apply):
        command.add_argument(
            "--prune",
            action="store_true",
            help="delete endpoints this folder deployed whose file was removed",
        )
        command.add_argument(
            "--check-queries",
            action="store_true",
            help="first run every query with its default variables (scratch endpoints)",
        )
    plan.add_argument(
        "--verbose", "-v", action="store_true", help="also list unchanged and unmanaged endpoints"
    )
    apply.add_argument(
        "--overwrite-drift",
        action="store_true",
        help="replace versions made in PostHog since the last apply with the files",
    )
    export = sub.add_parser("export", parents=[common], help="write the project's endpoints into the folder")
    export.add_argument(
        "--match", action="append", metavar="GLOB", help="only endpoints whose name matches (repeatable)"
    )
    return parser


def _client(args: argparse.Namespace) -> EndpointsClient:
    host = args.host or os.environ.get("POSTHOG_HOST") or DEFAULT_HOST
    project_id = args.project_id or os.environ.get("POSTHOG_PROJECT_ID")
    if not project_id:
        raise _Usage("no project: set POSTHOG_PROJECT_ID or pass --project-id.")
    key = os.environ.get(args.api_key_env)
    if not key:
        raise _Usage(
            f"no API key: set {args.api_key_env} to a personal API key with endpoint:read "
            "(and endpoint:write for apply and --check-queries)."
        )
    return EndpointsClient(host, project_id, key, api_dialect=args.api_dialect)


class _Usage(Exception):
    pass


def _export(args: argparse.Namespace, out: TextIO) -> int:
    with _client(args) as client:
        exported = export_endpoints(client, args.folder, match=args.match or ("*",), lock_path=args.lock)
    for name in exported.written:
        print(f"wrote {args.folder / (name + '.sql')}", file=out)
    for line in exported.skipped:
        print(f"skipped {line}", file=out)
    print(f"Exported {len(exported.written)} endpoint(s) into {args.folder}.", file=out)
    return EXIT_OK


def _plan_or_apply(args: argparse.Namespace, out: TextIO) -> int:
    files = load_endpoint_files(args.folder)  # every file checked before anything is sent
    lock = Lock.for_folder(args.folder, args.lock)
    with _client(args) as client:
        if args.check_queries:
            checks = check_endpoint_files(files, client, raise_on_failure=False)
            for check in checks:
                print(f"check {check}", file=out)
            if not all(check.ok for check in checks):
                print("Query check failed: nothing planned or applied.", file=out)
                return EXIT_ERROR
        plan = build_plan(files, client, lock, prune=args.prune)
        print(plan.render(verbose=getattr(args, "verbose", False)), file=out)
        if args.command == "plan":
            return EXIT_CHANGES if plan.has_changes else EXIT_OK
        applied = apply_plan(plan, client, lock, overwrite_drift=args.overwrite_drift)
    for line in applied.done:
        print(line, file=out)
    done = (
        f"Applied: {len(applied.done)} change(s); lock {lock.path}." if applied.done else "Nothing to apply."
    )
    print(done, file=out)
    return EXIT_OK


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run one parsed command, writing its report to ``out``; the exit code (see the module docstring)."""
    return _export(args, out) if args.command == "export" else _plan_or_apply(args, out)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    out = out or sys.stdout
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on a usage error, which CI would read as "changes"
        return EXIT_OK if exc.code in (0, None) else EXIT_ERROR
    try:
        return run(args, out)
    except (_Usage, EndpointFilesError, PostHogEndpointsError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
