"""What the running server holds: its configuration and the services built from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from endpoints_dagster.local.dialects.documented import Dialect
from endpoints_dagster.local.engine.limits import EngineLimits
from endpoints_dagster.local.server.auth import Authenticator, KeySpec
from endpoints_dagster.local.server.faults import Knobs, KnobsHolder, RateLimiter
from endpoints_dagster.local.server.stats import Stats
from endpoints_dagster.local.services.endpoint_runs import EngineBinding, RunService
from endpoints_dagster.local.services.executions import Runner
from endpoints_dagster.local.services.lifecycle import Catalog
from endpoints_dagster.local.services.materialization import Materializer
from endpoints_dagster.local.storage.store import Store

MAX_BODY_BYTES = 1024 * 1024


@dataclass
class ServerConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    api_keys: list[KeySpec] = field(default_factory=list)
    project_id: int = 1
    demo: bool = False
    events: int = 300_000
    seed: int = 7
    workers: int = 8  # one project may hold half (running_per_project)
    dialect: str = "documented"
    knobs: Knobs = field(default_factory=Knobs)
    max_body_bytes: int = MAX_BODY_BYTES
    access_log: bool = True
    limits: EngineLimits = field(default_factory=EngineLimits)
    # Queries one project may have queued or running at once; more are answered 429 (PostHog's
    # concurrency limit). Of those, at most ``running_per_project`` hold a worker (default: half).
    queries_per_project: int = 16
    running_per_project: int | None = None
    # The credential of the /_local/ control routes (never an API key); see server/admin.py.
    admin_token: str = ""


@dataclass
class State:
    config: ServerConfig
    store: Store
    auth: Authenticator
    binding: EngineBinding
    knobs: KnobsHolder
    stats: Stats
    rate_limiter: RateLimiter
    runner: Runner
    materializer: Materializer
    catalog: Catalog
    runs: RunService
    dialect: Dialect

    def close(self) -> None:
        self.runner.shutdown()
        self.materializer.shutdown()
        close = getattr(self.binding.engine, "close", None)
        if close is not None:
            close()
        self.store.close()
