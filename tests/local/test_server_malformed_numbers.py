"""Numbers in URLs and bodies that are not plain integers, or too large for any row: a 4xx, never a 500.

``"²".isdigit()`` is true but ``int("²")`` fails, and SQLite refuses integers beyond 64 bits;
both used to escape as a 500 ``server_error``.
"""

from __future__ import annotations

import httpx
import pytest

HUGE = "9" * 25
SUPERSCRIPT_TWO = "%C2%B2"  # "²": a Unicode digit that int() refuses


@pytest.mark.parametrize(
    "method,path,body,status",
    [
        ("GET", f"endpoints/top_events/run/?version={SUPERSCRIPT_TWO}", None, 400),
        ("POST", "endpoints/top_events/run/", {"version": "²"}, 400),
        ("GET", f"endpoints/top_events/versions/{SUPERSCRIPT_TWO}/", None, 404),
        ("GET", f"endpoints/top_events/versions/{HUGE}/", None, 404),
        ("GET", f"endpoints/top_events/run/?version={HUGE}", None, 404),
        ("PATCH", f"endpoints/top_events/?version={HUGE}", {"is_active": True}, 404),
        ("GET", f"endpoints/?created_by={HUGE}", None, 200),
    ],
)
def test_odd_numbers_are_not_server_errors(
    local_client: httpx.Client, method: str, path: str, body, status: int
):
    r = local_client.request(method, path, json=body)
    assert r.status_code == status, r.text[:300]
    if status == 200:
        assert r.json()["results"] == []  # no user has such an id


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", f"endpoints/top_events/?version={HUGE}", None),
        ("GET", f"endpoints/top_events/?version={SUPERSCRIPT_TWO}", None),
        ("GET", f"endpoints/top_events/run/?version={HUGE}", None),
        ("POST", "endpoints/top_events/run/", {"version": HUGE}),
        ("POST", "endpoints/top_events/run/", {"version": "²"}),
        ("GET", f"endpoints/top_events/run/?limit={SUPERSCRIPT_TWO}", None),
        ("GET", f"endpoints/?created_by={HUGE}", None),
        ("GET", f"endpoints/top_events/run/?limit={HUGE}", None),
        ("GET", f"endpoints/top_events/run/?limit=5&offset={HUGE}", None),
        ("POST", "endpoints/top_events/run/", {"limit": 5, "offset": HUGE}),
        ("POST", "endpoints/top_events/run/", {"limit": HUGE}),
    ],
)
def test_odd_numbers_on_the_current_dialect_are_4xx(
    current_client: httpx.Client, method: str, path: str, body
):
    r = current_client.request(method, path, json=body)
    assert r.status_code < 500, r.text[:300]
