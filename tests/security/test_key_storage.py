"""Key storage: keys are kept as HMACs under a server secret, in files only their owner reads,
and can be passed without the command line.

The attack found: keys were stored as unsalted SHA-256 in a world-readable file, and could only
be passed on the command line (visible to every user through ``ps``).
"""

from __future__ import annotations

import hashlib
import stat
import sys
from pathlib import Path

import httpx
import pytest

from endpoints_dagster.local.process import LocalServer

pytestmark = pytest.mark.integration

FILE_KEY = "phx_from_a_file_0123456789abcdef"
ENV_KEY = "phx_from_the_env_0123456789abcdef"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("keys")
    key_file = data.parent / f"{data.name}-keys.txt"
    key_file.write_text(f"# keys of the test\n{FILE_KEY}=endpoint:read@1\n", encoding="utf-8")
    server = LocalServer(
        data, api_key=ENV_KEY, demo=False, events=2_000, extra_args=["--api-key-file", str(key_file)]
    )
    with server:
        yield server


def everything_stored(data: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file() and p.name != "server.log")


def test_no_key_nor_its_plain_hash_is_stored(keyed):
    stored = everything_stored(keyed.data_dir)
    for key in (FILE_KEY, ENV_KEY):
        assert key.encode() not in stored
        assert hashlib.sha256(key.encode()).hexdigest().encode() not in stored


def test_state_and_secrets_are_private_files(keyed):
    for name in ("state.sqlite3", "server_secret"):
        mode = stat.S_IMODE((keyed.data_dir / name).stat().st_mode)
        assert mode & 0o077 == 0, f"{name} is {oct(mode)}"
    assert stat.S_IMODE(keyed.data_dir.stat().st_mode) & 0o077 == 0


def test_keys_from_a_file_and_the_environment_work_and_are_not_on_the_command_line(keyed):
    for key, status in ((ENV_KEY, 200), (FILE_KEY, 200), ("phx_not_a_key_000000000000000", 401)):
        r = httpx.get(f"{keyed.url}/api/projects/1/endpoints/", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == status
    if sys.platform.startswith("linux"):
        cmdline = Path(f"/proc/{keyed.pid}/cmdline").read_bytes()
        assert ENV_KEY.encode() not in cmdline and keyed.admin_token.encode() not in cmdline
    assert ENV_KEY not in (keyed.data_dir / "server.log").read_text()


def test_a_data_folder_from_an_older_build_keeps_its_keys_working(tmp_path):
    """Plain SHA-256 rows are re-keyed when their key is registered again; the others go."""
    import sqlite3

    server = LocalServer(tmp_path, api_key=ENV_KEY, demo=False, events=500)
    with server:
        pass
    db = sqlite3.connect(tmp_path / "state.sqlite3")
    with db:
        db.execute("UPDATE api_keys SET key_hash = ?", (hashlib.sha256(ENV_KEY.encode()).hexdigest(),))
        (user_id,) = db.execute("SELECT user_id FROM api_keys").fetchone()
        forgotten = hashlib.sha256(b"phx_a_key_nobody_gives_again").hexdigest()
        db.execute(
            "INSERT INTO api_keys (key_hash, scopes, projects, user_id, created_at) "
            "VALUES (?, '*', '1', 99, 0)",
            (forgotten,),
        )
    db.close()
    with server:
        r = httpx.get(
            f"{server.url}/api/projects/1/endpoints/", headers={"Authorization": f"Bearer {ENV_KEY}"}
        )
        assert r.status_code == 200
    db = sqlite3.connect(tmp_path / "state.sqlite3")
    rows = db.execute("SELECT user_id, key_hash FROM api_keys").fetchall()
    db.close()
    assert len(rows) == 1 and rows[0][0] == user_id and rows[0][1].startswith("hmac-sha256:")
