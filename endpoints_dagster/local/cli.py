"""``python -m endpoints_dagster.local serve ...``: run the local PostHog Endpoints server.

It prints exactly one line on stdout, ``ready http://HOST:PORT`` (the real port when
``--port 0``), once the socket accepts connections; logs go to stderr. SIGTERM and
SIGINT stop it cleanly (running queries are cancelled) with exit status 0.

Example::

    python -m endpoints_dagster.local serve --port 0 --data .local-posthog --demo \\
        --api-key phx_local_demo_key --api-key phx_ro=endpoint:read

    # PostHog as deployed today, strictly: variables, cache|force|direct, pages of 5, soft delete
    python -m endpoints_dagster.local serve --port 0 --demo --dialect current --list-page-size 5
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import logging.config
import os
import signal
import socket
import sys
import threading
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import uvicorn

from endpoints_dagster.local.dialects.registry import DIALECTS
from endpoints_dagster.local.engine.limits import (
    DEFAULT_MAX_EXECUTION_TIME,
    DEFAULT_MAX_MEMORY_USAGE,
    DEFAULT_MAX_ROWS_TO_READ,
    DEFAULT_MAX_THREADS,
    EngineLimits,
)
from endpoints_dagster.local.server.faults import FAULT_KINDS, Knobs

log = logging.getLogger("endpoints_local")
ENV_KEYS = "ENDPOINTS_LOCAL_API_KEYS"  # key specs, whitespace-separated (server/auth.py)
ENV_ADMIN = "ENDPOINTS_LOCAL_ADMIN_TOKEN"  # the control routes' token (server/admin.py)


def _rate(value: str) -> int:
    number, _, unit = value.partition("/")
    if unit not in ("", "min", "minute", "m"):
        raise argparse.ArgumentTypeError("--rate-limit takes N/min, e.g. 240/min")
    try:
        rate = int(number)
    except ValueError:
        raise argparse.ArgumentTypeError("--rate-limit takes N/min, e.g. 240/min") from None
    if rate < 1:
        raise argparse.ArgumentTypeError("--rate-limit must be at least 1/min")
    return rate


def _number(kind: type, low: float, high: float | None = None):
    def parse(value: str):
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {value!r}") from None
        if number < low or (high is not None and number > high):
            raise argparse.ArgumentTypeError(
                f"must be between {low} and {high}" if high is not None else f"must be >= {low}"
            )
        return number

    return parse


def _kinds(value: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in value.split(",") if k.strip())
    bad = [k for k in kinds if k not in FAULT_KINDS]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(f"--fault-kinds takes a comma list of {','.join(FAULT_KINDS)}")
    return kinds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="endpoints-local-server", description="Local PostHog Endpoints server (chDB)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API until SIGTERM/SIGINT")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    serve.add_argument("--port", type=int, default=8010, help="port; 0 picks a free one (default 8010)")
    serve.add_argument(
        "--data", type=Path, default=Path(".local-posthog"), help="state folder (SQLite + chDB)"
    )
    serve.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY[=SCOPE,...][@PROJECT,...]",
        help="a personal API key to accept; repeatable. No scopes = endpoint:read,endpoint:write; "
        "no projects = --project-id",
    )
    serve.add_argument(
        "--api-key-file",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"key specs, one per line (not visible to ps); {ENV_KEYS} in the environment works too",
    )
    serve.add_argument(
        "--admin-token",
        default=None,
        metavar="TOKEN",
        help=f"credential of the /_local/ control routes (else --admin-token-file, {ENV_ADMIN}, "
        "or a random one saved in <data>/admin_token and printed on stderr)",
    )
    serve.add_argument("--admin-token-file", type=Path, default=None, metavar="PATH")
    serve.add_argument(
        "--max-execution-time",
        type=_number(float, 0.1, 3600),
        default=DEFAULT_MAX_EXECUTION_TIME,
        metavar="SECONDS",
        help="per-query time limit (PostHog's HogQL default: 60)",
    )
    serve.add_argument(
        "--max-memory-usage",
        type=_number(int, 16 * 1024**2, 1024**4),
        default=DEFAULT_MAX_MEMORY_USAGE,
        metavar="BYTES",
        help="per-query memory limit",
    )
    serve.add_argument(
        "--max-rows-to-read", type=_number(int, 1, 10**15), default=DEFAULT_MAX_ROWS_TO_READ, metavar="N"
    )
    serve.add_argument(
        "--max-threads", type=_number(int, 1, 256), default=DEFAULT_MAX_THREADS, metavar="N", help="per query"
    )
    serve.add_argument(
        "--max-queries-per-project",
        type=_number(int, 1, 10_000),
        default=16,
        metavar="N",
        help="queued + running queries per project; more are answered 429",
    )
    serve.add_argument(
        "--max-running-per-project",
        type=_number(int, 1, 1024),
        default=None,
        metavar="N",
        help="workers one project may hold at once (default: half of --workers)",
    )
    serve.add_argument("--project-id", type=_number(int, 1), default=1)
    serve.add_argument(
        "--demo", action="store_true", help="create the demo endpoints (and the demo key if none given)"
    )
    serve.add_argument(
        "--events", type=_number(int, 0), default=300_000, help="events to generate on first start"
    )
    serve.add_argument(
        "--seed", type=int, default=7, help="seed of the event generator and of fault injection"
    )
    serve.add_argument(
        "--workers",
        type=_number(int, 1),
        default=8,
        help="query worker pool size (one project holds half of it at most)",
    )
    serve.add_argument(
        "--dialect",
        default="documented",
        choices=sorted(DIALECTS),
        help="API dialect to speak: documented (the reference page) or current (PostHog today, strict)",
    )
    serve.add_argument(
        "--list-page-size",
        type=_number(int, 1, 1000),
        default=100,
        metavar="N",
        help="default page size of paginated lists (current dialect; default 100)",
    )
    serve.add_argument(
        "--last-execution-granularity",
        type=_number(float, 0),
        default=None,
        metavar="SECONDS",
        help="last execution times move at most this often (default: 0 documented, 1800 current)",
    )
    serve.add_argument(
        "--latency", type=_number(float, 0), default=0.0, metavar="SECONDS", help="added to every query"
    )
    serve.add_argument(
        "--gateway-timeout",
        type=_number(float, 0.001),
        default=None,
        metavar="SECONDS",
        help="current dialect: answer a synchronous run still computing after SECONDS with the gateway's "
        "HTML 504, as PostHog's gateway does at about 60 s (off by default)",
    )
    serve.add_argument(
        "--fault-rate",
        type=_number(float, 0, 1),
        default=0.0,
        metavar="F",
        help="share of /api requests that fail",
    )
    serve.add_argument("--fault-kinds", type=_kinds, default=FAULT_KINDS, help="503,429,drop (default all)")
    serve.add_argument(
        "--rate-limit", type=_rate, default=None, metavar="N/min", help="per-key rate limit (off)"
    )
    serve.add_argument("--max-body-bytes", type=_number(int, 1024), default=1024 * 1024)
    serve.add_argument("--no-access-log", action="store_true", help="do not log one line per request")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def _log_config(level: str, access_log: bool) -> dict[str, Any]:
    # Everything to stderr; the access line is method, path, status (no headers, so never a key).
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "use_colors": False,
                "fmt": '%(asctime)s access: "%(request_line)s" %(status_code)s',
            },
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            },
            "access": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {
                "handlers": ["access"],
                "level": "INFO" if access_log else "WARNING",
                "propagate": False,
            },
            "endpoints_local": {"handlers": ["default"], "level": level.upper(), "propagate": False},
        },
    }


def knobs_from(args: argparse.Namespace) -> Knobs:
    """The startup knobs (what ``POST /_local/knobs/reset`` returns to); dialect defaults fill gaps."""
    granularity = args.last_execution_granularity
    if granularity is None:
        granularity = DIALECTS[args.dialect].last_execution_granularity_seconds
    return Knobs(
        latency_seconds=args.latency,
        fault_rate=args.fault_rate,
        fault_kinds=args.fault_kinds,
        rate_limit_per_minute=args.rate_limit,
        list_page_size=args.list_page_size,
        last_execution_granularity_seconds=granularity,
        gateway_timeout_seconds=args.gateway_timeout,
    )


def serve(args: argparse.Namespace) -> int:
    from endpoints_dagster.local.server.admin import resolve_admin_token
    from endpoints_dagster.local.server.app import ServerConfig, build_state, create_app
    from endpoints_dagster.local.server.auth import parse_key_spec, parse_key_specs

    logging.config.dictConfig(_log_config(args.log_level, not args.no_access_log))
    os.umask(0o077)  # every file the server makes (state, chDB data, secrets) is its user's only
    try:
        keys = [parse_key_spec(spec, args.project_id) for spec in args.api_key]
        if args.api_key_file is not None:
            keys += parse_key_specs(
                args.api_key_file.read_text(encoding="utf-8"), args.project_id, "--api-key-file"
            )
        keys += parse_key_specs(os.environ.get(ENV_KEYS, ""), args.project_id, ENV_KEYS)
        args.data.mkdir(parents=True, exist_ok=True)
        admin_token, generated = resolve_admin_token(
            flag=args.admin_token, file=args.admin_token_file, data_dir=args.data
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if generated:
        # Printed once, like a notebook server's token; it is also in <data>/admin_token (0600).
        print(f"admin token for the /_local/ control routes: {admin_token}", file=sys.stderr, flush=True)
    limits = EngineLimits(
        max_execution_time=args.max_execution_time,
        max_memory_usage=args.max_memory_usage,
        max_rows_to_read=args.max_rows_to_read,
        max_threads=args.max_threads,
    )
    knobs = knobs_from(args)
    config = ServerConfig(
        data_dir=args.data,
        host=args.host,
        port=args.port,
        api_keys=keys,
        project_id=args.project_id,
        demo=args.demo,
        events=args.events,
        seed=args.seed,
        workers=args.workers,
        dialect=args.dialect,
        knobs=knobs,
        max_body_bytes=args.max_body_bytes,
        limits=limits,
        admin_token=admin_token,
        queries_per_project=args.max_queries_per_project,
        running_per_project=args.max_running_per_project,
        access_log=not args.no_access_log,
    )
    # Bind before the slow start (engine fill) so a port clash fails fast, but print
    # "ready" only once uvicorn serves the socket.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        print(f"error: cannot bind {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    sock.listen(2048)
    # A stop requested while the data is still being built is a clean stop too.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop_during_startup)
    try:
        state = build_state(config)
    except _StartupStopped:
        log.info("stopped before the server was ready")
        return 0
    try:
        uv_config = uvicorn.Config(
            create_app(state),
            log_config=_log_config(args.log_level, not args.no_access_log),
            access_log=not args.no_access_log,
            lifespan="off",
            timeout_graceful_shutdown=5,
            server_header=False,
            proxy_headers=False,
        )
        server = ReadyServer(uv_config, state=state, ready_host=args.host, ready_port=sock.getsockname()[1])
        server.run(sockets=[sock])
    finally:
        state.close()
    return 0


class _StartupStopped(BaseException):
    """Raised by the startup signal handler; BaseException so no ``except Exception`` swallows it."""


def _stop_during_startup(sig: int, frame: Any) -> None:
    raise _StartupStopped()


class ReadyServer(uvicorn.Server):
    """uvicorn.Server that prints the ready line and exits 0 on SIGTERM/SIGINT."""

    def __init__(self, config: uvicorn.Config, *, state: Any, ready_host: str, ready_port: int) -> None:
        super().__init__(config)
        self._state = state
        host = f"[{ready_host}]" if ":" in ready_host else ready_host
        self.ready_line = f"ready http://{host}:{ready_port}"

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            log.info(
                "serving the %s dialect at %s", self._state.dialect.name, self.ready_line.split(" ", 1)[1]
            )
            sys.stdout.write(self.ready_line + "\n")
            sys.stdout.flush()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # uvicorn re-raises the captured signal after shutdown (exit status -15); a clean
        # stop means exit status 0 here, so only restore the handlers.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: Any) -> None:
        # Cancel running queries first so open sync requests answer and shutdown is quick.
        self._state.runner.cancel_all()
        super().handle_exit(sig, frame)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2
