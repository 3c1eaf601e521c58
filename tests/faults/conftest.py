"""Fixtures of the fault suite: fast retry waits, a Dagster pipeline with inspectable storage, a
proxy that cuts responses mid-body, and the rows a clean run gives (helpers in ``fault_helpers``).

* ``fast_waits`` (autouse): every client built during the test sleeps at most 20 ms per retry
  backoff or poll, whatever the policy asks (the waits' lengths are the client tests' business;
  here only their outcome matters). The client has no field for its retry backoff, so the test
  hook it reads its sleep from (``endpoints_dagster.client.client.default_sleep``) is swapped.
* ``pipeline``: :class:`fault_helpers.Pipeline` on a fresh instance and storage folder.
* ``cutting_proxy``: :class:`fault_helpers.CuttingProxy` in front of the session's local server.
* ``expected_frame(name)``: the endpoint's rows from a clean run (faults off), as an asset should
  land them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from fault_helpers import CuttingProxy, Pipeline, resource_for

from endpoints_dagster.client import client as client_module
from endpoints_dagster.client.runs.polling import default_sleep
from endpoints_dagster.frames.landing import dates_as_dates, signed_where_fits

FAST_WAIT = 0.02


@pytest.fixture(autouse=True)
def fast_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    def fast(seconds: float, cancel_event: threading.Event | None = None) -> bool:
        return default_sleep(min(seconds, FAST_WAIT), cancel_event)

    monkeypatch.setattr(client_module, "default_sleep", fast)


@pytest.fixture
def pipeline(tmp_path: Path, local_server) -> Iterator[Pipeline]:
    with dg.DagsterInstance.ephemeral() as instance:
        yield Pipeline(tmp_path / "storage", instance, local_server)


@pytest.fixture
def cutting_proxy(local_server) -> Iterator[CuttingProxy]:
    host, port = local_server.url.removeprefix("http://").rsplit(":", 1)
    proxy = CuttingProxy((host, int(port)))
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def expected_frame(local_server) -> Callable[[str], pd.DataFrame]:
    def expected(name: str) -> pd.DataFrame:
        """The endpoint's rows read directly, typed as an endpoint asset lands them."""
        with resource_for(local_server.url, local_server).get_client() as client:
            result = client.run_endpoint(name, refresh="force_blocking")
        return signed_where_fits(dates_as_dates(result.to_pandas(), result.types))

    return expected
