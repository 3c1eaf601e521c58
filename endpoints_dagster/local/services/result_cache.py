"""Result cache for runs, persisted in SQLite so a restart keeps it.

The key covers everything that changes the answer: project, endpoint, version, the
resolved variable values, filters, limit/offset, and whether the materialized table was
read. "Fresh" means computed less than ``cache_age_seconds`` ago (6 h when the endpoint
has none); ``lazy_async`` accepts twice that; ``force_cache`` accepts any age.

Example::

    key = cache_key(project_id=1, endpoint_id=ep.id, version=2, variables={"since": "2026-01-01"},
                    filters=None, limit=None, offset=None, materialized=False)
    hit = cache.get(key)            # (core RunResult dict, last_refresh) or None
    cache.is_fresh(hit[1], ep.cache_age_seconds)
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

import orjson

from endpoints_dagster.local import timefmt
from endpoints_dagster.local.storage.store import Store

DEFAULT_CACHE_AGE_SECONDS = 6 * 3600
PRUNE_AFTER_SECONDS = 7 * 86400  # well past the longest freshness (2 x 86400 for lazy_async)
PRUNE_EVERY_PUTS = 200


def cache_key(
    *,
    project_id: int,
    endpoint_id: str,
    version: int,
    variables: dict[str, Any],
    filters: dict[str, Any] | None,
    limit: int | None,
    offset: int | None,
    materialized: bool,
) -> str:
    material = orjson.dumps(
        {
            "project": project_id,
            "endpoint": endpoint_id,
            "version": version,
            "variables": variables,
            "filters": filters,
            "limit": limit,
            "offset": offset,
            "materialized": materialized,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return "cache_" + hashlib.sha256(material).hexdigest()[:32]


class ResultCache:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._puts = itertools.count(1)

    def get(self, key: str) -> tuple[dict[str, Any], float] | None:
        hit = self._store.cache_get(key)
        if hit is None:
            return None
        payload, last_refresh = hit
        return orjson.loads(payload), last_refresh

    def put(self, key: str, *, project_id: int, endpoint_id: str, core: dict[str, Any]) -> None:
        self._store.cache_put(key, project_id, endpoint_id, orjson.dumps(core), core["last_refresh"])
        if next(self._puts) % PRUNE_EVERY_PUTS == 0:
            self._store.cache_prune(timefmt.now() - PRUNE_AFTER_SECONDS)

    @staticmethod
    def is_fresh(
        last_refresh: float, cache_age_seconds: float | None, *, factor: float = 1.0, now: float | None = None
    ) -> bool:
        age_limit = (cache_age_seconds or DEFAULT_CACHE_AGE_SECONDS) * factor
        return (timefmt.now() if now is None else now) - last_refresh < age_limit
