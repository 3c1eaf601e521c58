"""Helpers of the security suite: keys, clients, and the spellings every query attack is tried in.

* ``OWNER_ONE`` (project 1), ``ATTACKER`` (project 2), ``READER`` (project 2, read only): the keys.
* ``api(server, key, project)``: an ``httpx.Client`` on ``/api/projects/{project}/`` with the key.
* ``spellings(name, args)``: one function call written every way the allowlist must see through:
  plain, backquoted, double-quoted, upper case, a comment before the parenthesis, and nested in
  a subquery, a CTE, a UNION, a WHERE and a lambda.
* ``table_spellings(db, table)``: a qualified table read the same ways.
* ``assert_refused(response, *needles)``: a 400 in PostHog's shape whose detail names the construct,
  with nothing of the host (``/etc/passwd``, keys) in the body.

Example::

    @pytest.mark.parametrize("sql", spellings("file", "'/etc/passwd'"))
    def test_it(sql, attacker):
        assert_refused(attacker.post("endpoints/", json=endpoint_body(sql)), "file")
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx

from endpoints_dagster.local.process import LocalServer

OWNER_ONE = "phx_sec_owner_one_0123456789abcdef"
ATTACKER = "phx_sec_attacker_two_fedcba9876543210"
READER = "phx_sec_reader_two_00112233445566778899"
KEYS = (OWNER_ONE, ATTACKER, READER)
HOST_SECRETS = ("root:x:0:0", "phx_sec_", "endpoints_dagster.local", "SQLite format")


def api(server: LocalServer, key: str, project: int) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.url}/api/projects/{project}/",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


_names = itertools.count(1)


def unique(prefix: str = "sec") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}_{next(_names)}"


def endpoint_body(
    sql: str, name: str | None = None, variables: dict[str, Any] | None = None, **fields: Any
) -> dict:
    query: dict[str, Any] = {"kind": "HogQLQuery", "query": sql}
    if variables:
        query["variables"] = {
            f"var-{k}": {"variableId": f"var-{k}", "code_name": k, "value": v} for k, v in variables.items()
        }
    return {"name": name or unique(), "query": query, **fields}


def spellings(name: str, args: str) -> dict[str, str]:
    """``name(args)`` as a scalar call, spelled every way the allowlist must see through."""
    call = f"{name}({args})"
    return {
        "plain": f"SELECT {call} AS x",
        "backquoted": f"SELECT `{name}`({args}) AS x",
        "double-quoted": f'SELECT "{name}"({args}) AS x',
        "upper case": f"SELECT {name.upper()}({args}) AS x",
        "mixed case": f"SELECT {name[:1].upper()}{name[1:]}({args}) AS x",
        "comment before (": f"SELECT {name}/* x */({args}) AS x",
        "line comment": f"SELECT -- hi\n {name}({args}) AS x",
        "subquery": f"SELECT * FROM (SELECT {call} AS x)",
        "CTE": f"WITH t AS (SELECT {call} AS x) SELECT * FROM t",
        "UNION": f"SELECT 'a' AS x UNION ALL SELECT {call} AS x",
        "WHERE": f"SELECT count() AS n FROM events WHERE {call} != ''",
        "IN subquery": f"SELECT count() AS n FROM events WHERE event IN (SELECT {call})",
        "lambda": f"SELECT arrayMap(v -> {name}(v), [{args}]) AS x",
        "scalar CTE": f"WITH ({call}) AS s SELECT s AS x",
    }


def table_function_spellings(name: str, args: str) -> dict[str, str]:
    """``FROM name(args)`` spelled every way, plus nested forms."""
    return {
        "plain": f"SELECT * FROM {name}({args})",
        "backquoted": f"SELECT * FROM `{name}`({args})",
        "double-quoted": f'SELECT * FROM "{name}"({args})',
        "upper case": f"SELECT * FROM {name.upper()}({args})",
        "subquery": f"SELECT * FROM (SELECT * FROM {name}({args}))",
        "CTE": f"WITH t AS (SELECT * FROM {name}({args})) SELECT * FROM t",
        "UNION": f"SELECT * FROM events UNION ALL SELECT * FROM {name}({args})",
        "JOIN": f"SELECT * FROM events AS e JOIN {name}({args}) AS f ON 1 = 1",
        "IN": f"SELECT count() FROM events WHERE event IN (SELECT * FROM {name}({args}))",
    }


def table_spellings(db: str, table: str) -> dict[str, str]:
    """``db.table`` read every way the allowlist must see through."""
    return {
        "plain": f"SELECT * FROM {db}.{table}",
        "backquoted": f"SELECT * FROM `{db}`.`{table}`",
        "double-quoted": f'SELECT * FROM "{db}"."{table}"',
        "upper case": f"SELECT * FROM {db.upper()}.{table.upper()}",
        "comments": f"SELECT * FROM /* a */ {db} /* b */ . /* c */ {table}",
        "subquery": f"SELECT * FROM (SELECT * FROM {db}.{table})",
        "CTE": f"WITH t AS (SELECT * FROM {db}.{table}) SELECT * FROM t",
        "UNION": f"SELECT 1 AS x UNION ALL SELECT 1 AS x FROM {db}.{table}",
        "IN": f"SELECT count() FROM events WHERE event IN (SELECT toString(1) FROM {db}.{table})",
        "JOIN": f"SELECT count() FROM events AS e JOIN {db}.{table} AS t ON 1 = 1",
    }


def assert_refused(response: httpx.Response, *needles: str) -> dict:
    """A 400 in PostHog's validation shape naming one of ``needles``, leaking nothing."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body.get("type") == "validation_error" and body.get("attr") == "query", body
    detail = body["detail"]
    assert any(n.lower() in detail.lower() for n in needles), detail
    for secret in HOST_SECRETS:
        assert secret not in response.text
    return body
