"""The admin token: the one credential of the ``/_local/`` control routes.

API keys never open ``/_local/`` (any project's key could otherwise read every project's
executions or turn on faults). The token comes, in this order, from ``--admin-token``, a
file named by ``--admin-token-file``, or ``ENDPOINTS_LOCAL_ADMIN_TOKEN``; without one the
server makes a random token, keeps it in ``<data>/admin_token`` (mode 0600) and prints it
once on stderr at start.

Example::

    token = resolve_admin_token(flag=None, file=None, data_dir=Path("data"))
    decorated = admin_only(handler)     # answers 401 / 403 before the handler runs
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from endpoints_dagster.local import api_errors
from endpoints_dagster.local.server.routing import Ctx, guarded
from endpoints_dagster.local.storage.files import write_private

if TYPE_CHECKING:  # pragma: no cover
    from endpoints_dagster.local.server.state import State

ENV_VAR = "ENDPOINTS_LOCAL_ADMIN_TOKEN"
TOKEN_FILE = "admin_token"
MIN_LENGTH = 16


def resolve_admin_token(*, flag: str | None, file: Path | None, data_dir: Path) -> tuple[str, bool]:
    """(token, generated): the configured token, else the saved or a new random one.

    Raises ValueError (message without the token) for a token shorter than 16 characters.
    """
    token = flag
    if token is None and file is not None:
        token = file.read_text(encoding="utf-8").strip()
    if token is None:
        token = os.environ.get(ENV_VAR) or None
    if token is not None:
        if len(token) < MIN_LENGTH or any(c.isspace() for c in token):
            raise ValueError(f"the admin token must be at least {MIN_LENGTH} characters, without whitespace")
        return token, False
    saved = data_dir / TOKEN_FILE
    if saved.is_file():
        text = saved.read_text(encoding="utf-8").strip()
        if len(text) >= MIN_LENGTH:
            return text, False
    token = secrets.token_urlsafe(32)
    write_private(saved, token + "\n")
    return token, True


def is_admin(state: State, authorization: str | None) -> bool:
    scheme, _, token = (authorization or "").strip().partition(" ")
    expected = state.config.admin_token
    # Bytes: compare_digest refuses non-ASCII str, and a header may carry any latin-1 character.
    sent = token.strip().encode("utf-8", "replace")
    matches = hmac.compare_digest(sent, expected.encode("utf-8"))
    return bool(expected) and scheme.lower() == "bearer" and matches


AdminHandler = Callable[[Ctx], Awaitable[Response]]


def admin_only(handler: AdminHandler) -> Callable[[Request], Awaitable[Response]]:
    """Guard a control handler: 401 without the admin token, 403 when an API key is sent instead."""

    def admit(request: Request, state: State) -> Ctx:
        authorization = request.headers.get("authorization")
        if not is_admin(state, authorization):
            if authorization and _is_api_key(state, authorization):
                raise api_errors.permission_denied("The control API needs the admin token, not an API key.")
            raise api_errors.APIError(
                401,
                "authentication_error",
                "not_authenticated",
                "The control API needs the admin token (Authorization: Bearer <admin token>).",
            )
        return Ctx(request, state, None, 0)  # type: ignore[arg-type]

    return guarded(handler, admit)


def _is_api_key(state: State, authorization: str) -> bool:
    try:
        state.auth.authenticate(authorization)
    except api_errors.APIError:
        return False
    return True
