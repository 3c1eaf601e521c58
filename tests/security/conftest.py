"""Fixtures of the security suite (helpers and spellings: ``attack_helpers.py``).

* ``attack_server`` (session): a local server of its own with two projects and three keys:
  ``OWNER_ONE`` (project 1, read+write), ``ATTACKER`` (project 2, read+write) and ``READER``
  (project 2, read only), 2,000 events, no demo endpoints; the keys reach it through the
  environment. Its admin token is ``attack_server.admin_token``.
* ``attacker`` / ``owner`` / ``reader``: ``httpx`` clients on project 2 (attacker, reader) and 1 (owner).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from attack_helpers import ATTACKER, OWNER_ONE, READER, api

from endpoints_dagster.local.process import LocalServer


@pytest.fixture(scope="session")
def attack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = LocalServer(
        tmp_path_factory.mktemp("attack"),
        api_key=OWNER_ONE,
        project_id=1,
        demo=False,
        events=2_000,
        extra_args=["--no-access-log"],
        env={"ENDPOINTS_LOCAL_API_KEYS": f"{OWNER_ONE} {ATTACKER}@2 {READER}=endpoint:read@2"},
    )
    with server:
        yield server


@pytest.fixture
def attacker(attack_server: LocalServer) -> Iterator[httpx.Client]:
    with api(attack_server, ATTACKER, 2) as client:
        yield client


@pytest.fixture
def reader(attack_server: LocalServer) -> Iterator[httpx.Client]:
    with api(attack_server, READER, 2) as client:
        yield client


@pytest.fixture
def owner(attack_server: LocalServer) -> Iterator[httpx.Client]:
    with api(attack_server, OWNER_ONE, 1) as client:
        yield client
