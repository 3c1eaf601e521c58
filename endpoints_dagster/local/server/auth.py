"""Personal API keys: parsing key specs, keyed hashing, and PostHog's checks.

Only an HMAC-SHA256 of a key under the server's secret (``<data>/server_secret``, mode
0600) is stored or kept in memory: a copy of the state file alone cannot be used to test
guessed keys offline. The key itself never reaches a log line, an error body or a repr.
Keys come from ``--api-key``, ``--api-key-file`` or ``ENDPOINTS_LOCAL_API_KEYS`` (see
``parse_key_specs``); a key given on the command line is visible to ``ps``. Checks run in PostHog's order:
credentials (401), scope (403), project (403 when the project exists, 404 when it
does not: PostHog resolves the team first and answers ``Not found.`` for an unknown
one, and "API key does not have access to the requested project" for a known one).

A key spec is ``KEY[=SCOPE,...][@PROJECT,...]``: no scopes means both
``endpoint:read`` and ``endpoint:write``; no projects means ``--project-id``.

Example::

    spec = parse_key_spec("phx_ro=endpoint:read@1,2", default_project=1)
    auth = Authenticator(store); auth.register(spec)
    key = auth.authenticate(request.headers.get("authorization"))
    auth.authorize(key, project_id=1, scope="endpoint:write")   # raises APIError(403)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from endpoints_dagster.local import api_errors
from endpoints_dagster.local.storage.store import KeyRow, Store

READ = "endpoint:read"
WRITE = "endpoint:write"
ALL_SCOPES = frozenset({READ, WRITE})
KNOWN_SCOPES = ALL_SCOPES | {"*"}


@dataclass(frozen=True)
class KeySpec:
    """A key to create at startup. ``repr`` hides the key."""

    key: str
    scopes: frozenset[str]
    projects: frozenset[int]

    def __repr__(self) -> str:
        return f"KeySpec(key='***', scopes={sorted(self.scopes)}, projects={sorted(self.projects)})"


HASH_PREFIX = "hmac-sha256:"
ENV_VAR = "ENDPOINTS_LOCAL_API_KEYS"


def hash_key(key: str, secret: bytes) -> str:
    """The stored form of ``key``: an HMAC under the server's secret (never the key)."""
    return HASH_PREFIX + hmac.new(secret, key.encode("utf-8"), hashlib.sha256).hexdigest()


def legacy_hash(key: str) -> str:
    """What older builds stored (unsalted SHA-256); such rows are re-keyed when their key is registered."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_key_specs(text: str, default_project: int, source: str) -> list[KeySpec]:
    """Key specs separated by whitespace or newlines (``#`` starts a comment line), from a file or env var."""
    specs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for word in line.split():
            try:
                specs.append(parse_key_spec(word, default_project))
            except ValueError as exc:
                raise ValueError(f"{source}: {exc}") from None
    return specs


def parse_key_spec(spec: str, default_project: int) -> KeySpec:
    """Parse ``KEY[=SCOPE,...][@PROJECT,...]``; raise ValueError with a message that omits the key."""
    rest, _, projects_s = spec.partition("@")
    key, has_scopes, scopes_s = rest.partition("=")
    if not key or any(c.isspace() for c in key):
        raise ValueError("--api-key: the key is empty or contains whitespace")
    scopes = frozenset(s.strip() for s in scopes_s.split(",") if s.strip()) if has_scopes else ALL_SCOPES
    unknown = scopes - KNOWN_SCOPES
    if unknown or not scopes:
        raise ValueError(
            f"--api-key: unknown scope(s) {sorted(unknown)}; use endpoint:read, endpoint:write or *"
        )
    try:
        projects = (
            frozenset(int(p) for p in projects_s.split(",") if p.strip())
            if projects_s
            else frozenset({default_project})
        )
    except ValueError:
        raise ValueError("--api-key: projects after '@' must be integers, e.g. KEY@1,2") from None
    return KeySpec(key, scopes, projects)


def has_scope(key: KeyRow, scope: str) -> bool:
    # PostHog: a ``:write`` scope also grants ``:read`` on the same object; ``*`` grants all.
    if "*" in key.scopes or scope in key.scopes:
        return True
    obj, _, action = scope.partition(":")
    return action == "read" and f"{obj}:write" in key.scopes


class Authenticator:
    """Looks keys up by hash (in memory, loaded from the store) and applies PostHog's checks."""

    def __init__(self, store: Store, secret: bytes | None = None) -> None:
        self._store = store
        # Without a saved secret (unit tests) keys are valid for this object's life only.
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self._by_hash: dict[str, KeyRow] = {}
        self._projects: set[int] = set()
        self.reload()

    def reload(self) -> None:
        self._by_hash = {k.key_hash: k for k in self._store.all_keys()}
        self._projects = {
            p for k in self._by_hash.values() for p in k.projects
        } | self._store.endpoint_projects()

    def register(self, spec: KeySpec) -> KeyRow:
        digest = hash_key(spec.key, self._secret)
        # A data folder from an older build keeps the key's row (and its user id) under the new hash.
        self._store.rekey(legacy_hash(spec.key), digest)
        row = self._store.upsert_key(digest, spec.scopes, spec.projects)
        self.reload()
        return row

    def drop_legacy(self) -> int:
        """Forget keys an older build stored as plain SHA-256 that were not given at this start:
        no request can use them any more, and a plain hash is guessable offline."""
        dropped = self._store.drop_keys_not_starting(HASH_PREFIX)
        self.reload()
        return dropped

    @property
    def key_count(self) -> int:
        return len(self._by_hash)

    def project_exists(self, project_id: int) -> bool:
        return project_id in self._projects

    def note_project(self, project_id: int) -> None:
        self._projects.add(project_id)

    def authenticate(self, authorization: str | None) -> KeyRow:
        """The key row for an ``Authorization: Bearer <key>`` header, else 401."""
        if not authorization:
            raise api_errors.not_authenticated()
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise api_errors.not_authenticated()
        digest = hash_key(token, self._secret)
        row = self._by_hash.get(digest)
        # compare_digest: the lookup above is by hash already; this keeps the check constant-time.
        if row is None or not hmac.compare_digest(row.key_hash, digest):
            raise api_errors.authentication_failed()
        return row

    def authorize(self, key: KeyRow, *, project_id: int | None, scope: str | None) -> None:
        """Scope first, then project, as PostHog's ``APIScopePermission`` does."""
        if scope is not None and not has_scope(key, scope):
            raise api_errors.permission_denied(f"API key missing required scope '{scope}'")
        if project_id is not None and project_id not in key.projects:
            if not self.project_exists(project_id):
                raise api_errors.not_found()
            raise api_errors.permission_denied(
                f"API key does not have access to the requested project: ID {project_id}."
            )
