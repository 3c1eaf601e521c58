"""Fixtures for the EndpointsClient unit tests: a respx-mocked PostHog and a fake clock.

Every test here also checks that the API key never reaches a log record (captured at DEBUG for
all loggers, httpx included).
"""

from __future__ import annotations

import logging

import pytest
import respx
from client_fakes import HOST, KEY, FakeTime, make_client


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake_time: FakeTime):
    client = make_client(fake_time)
    yield client
    client.close()


@pytest.fixture
def api():
    with respx.mock(base_url=HOST, assert_all_called=False) as mock:
        yield mock


@pytest.fixture(autouse=True)
def _key_never_logged(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "endpoints_dagster"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield
    assert KEY not in caplog.text
    for record in caplog.records:
        assert KEY not in repr(record.args)


@pytest.fixture
def paged(fake_time: FakeTime):
    """A client that pages every two rows."""
    client = make_client(fake_time, page_size=2)
    yield client
    client.close()
