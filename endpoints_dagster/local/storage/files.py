"""Files only the server's user may read: state, keys' secret, admin token (mode 0600)."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` created with mode 0600 (replacing what was there)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def make_private(path: Path) -> None:
    """Restrict an existing file or folder to its owner (0600 files, 0700 folders); missing is fine."""
    try:
        os.chmod(path, 0o700 if path.is_dir() else 0o600)
    except FileNotFoundError:
        pass


def read_or_create_secret(path: Path, nbytes: int = 32) -> bytes:
    """The server's secret (hex in ``path``, 0600), made on first use."""
    if path.is_file():
        text = path.read_text(encoding="utf-8").strip()
        try:
            secret = bytes.fromhex(text)
        except ValueError:
            secret = b""
        if len(secret) >= 16:
            make_private(path)
            return secret
    secret = os.urandom(nbytes)
    write_private(path, secret.hex() + "\n")
    return secret
