"""HogQL sugar -> ClickHouse SQL, with every value bound as a typed query parameter.

The local server runs endpoint queries on chDB, so HogQL that is plain ClickHouse SQL runs
unchanged. This module adds the HogQL features endpoint queries lean on, printed the way
PostHog's HogQL printer prints them:

- ``properties.$browser``, ``e.properties.plan``, ``properties['$os']`` read the JSON text
  column as PostHog does (``Nullable(String)``; JSON ``null`` and a missing key are NULL). A bare
  property read in the select list is named after its key (``$browser``), as in PostHog;
- ``toFloat(x)`` / ``toInt(x)`` become ``accurateCastOrNull(x, 'Float64' | 'Int64')``;
- ``{variables.code_name}`` becomes ``{v_code_name:Type}`` and the value travels beside the
  query as a ClickHouse parameter. Values are never spliced into SQL text: the string
  ``'; DROP TABLE events; --`` stays a string;
- ``{filters}`` becomes a condition built from ``filters_override``, again with parameters only
  (the value side lives in ``hogql_params.py``).

A small lexer (strings, quoted identifiers, comments, heredocs) drives the rewrite, so nothing
inside a literal or comment is touched. The result is then judged by the allowlist in
``query_guard.py`` (sqlglot's parse of the final SQL): what HogQL does not allow never runs.

>>> t = translate("SELECT count() FROM events WHERE event = {variables.e}", {"e": "signup"})
>>> t.sql, t.params
('SELECT count() FROM events WHERE event = {v_e:String}', {'v_e': 'signup'})
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from endpoints_dagster.local.engine import query_guard
from endpoints_dagster.local.engine.parameters import (
    HogQLError,
    Params,
    bind_value,
    filters_condition,
    property_read,
)


class Token(NamedTuple):
    kind: str  # ws comment string qident heredoc number ident punct
    text: str


class UnparseableQuery(HogQLError):
    """The allowlist cannot parse the translated query; ``sql`` lets ClickHouse's parser name why."""

    def __init__(self, message: str, sql: str, params: dict[str, str]) -> None:
        super().__init__(message, "query")
        self.sql = sql
        self.params = params


@dataclass(frozen=True)
class Translated:
    """A query ready for chDB: ``sql`` has ``{name:Type}`` slots filled from ``params`` (text form)."""

    sql: str
    params: dict[str, str]
    has_limit: bool  # the query has its own top-level LIMIT
    variables: frozenset[str]


_TOKEN_RE = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<comment>--[^\n]*|\#[ !][^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<string>'(?:[^'\\]|\\.|'')*(?:'|\Z))
    | (?P<qident>`(?:[^`\\]|\\.|``)*(?:`|\Z)|"(?:[^"\\]|\\.|"")*(?:"|\Z))
    | (?P<heredoc>\$(?P<tag>[A-Za-z0-9_]*)\$.*?(?:\$(?P=tag)\$|\Z))
    | (?P<number>0[xX][0-9A-Fa-f]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)
    | (?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)
    | (?P<punct>.)
    """,
    re.S | re.X,
)


def tokenize(sql: str) -> list[Token]:
    """Split ``sql`` into tokens; joining their texts gives ``sql`` back. Never raises."""
    return [
        Token(m.lastgroup if m.lastgroup != "tag" else "heredoc", m.group()) for m in _TOKEN_RE.finditer(sql)
    ]


# The tables a project's queries read (each project has its own, see clickhouse.py).
PROJECT_TABLES = frozenset({"events"})
_SIGNIFICANT = frozenset({"string", "qident", "heredoc", "number", "ident", "punct"})
_CLAUSE_END = frozenset(
    [
        "from",
        "where",
        "prewhere",
        "group",
        "having",
        "order",
        "limit",
        "window",
        "qualify",
        "settings",
        "union",
        "except",
        "intersect",
        "into",
        "format",
    ]
)
_CASTS = {"tofloat": "Float64", "toint": "Int64"}
_EVENT_COLUMNS = frozenset({"uuid", "event", "distinct_id", "person_id", "timestamp", "properties"})
_CLOSED = {
    "string": re.compile(r"'(?:[^'\\]|\\.|'')*'", re.S),
    "qident": re.compile(r"`(?:[^`\\]|\\.|``)*`|\"(?:[^\"\\]|\\.|\"\")*\"", re.S),
}


def _placeholder(tokens: list[Token], i: int) -> tuple[str, str | None, int] | None:
    """At a ``{``: ("variable", name, end) / ("filters", None, end) / ("raw", None, end) or None."""
    sig: list[Token] = []
    j = i + 1
    while j < len(tokens) and len(sig) < 4:
        tok = tokens[j]
        if tok.kind in _SIGNIFICANT:
            if tok.text == "}":
                break
            sig.append(tok)
        j += 1
    if j >= len(tokens) or tokens[j].text != "}":
        if len(sig) >= 2 and sig[0].kind == "ident" and sig[1].text == ":":
            return ("raw", None, j)
        return None
    texts = [t.text for t in sig]
    if len(sig) == 3 and texts[0] == "variables" and texts[1] == "." and sig[2].kind == "ident":
        return ("variable", texts[2], j)
    if texts == ["filters"]:
        return ("filters", None, j)
    if len(sig) >= 2 and sig[0].kind == "ident" and texts[1] == ":":
        return ("raw", None, j)
    return None


def _scan_placeholders(hogql: str) -> list[tuple[str, str | None]]:
    tokens = tokenize(hogql)
    found = []
    for i, tok in enumerate(tokens):
        if tok.text == "{":
            ph = _placeholder(tokens, i)
            if ph is not None:
                found.append((ph[0], ph[1]))
    return found


def referenced_variables(hogql: str) -> set[str]:
    """The code names used as ``{variables.x}`` (outside strings and comments)."""
    return {name for kind, name in _scan_placeholders(hogql) if kind == "variable" and name}


def has_filters_placeholder(hogql: str) -> bool:
    """Whether the query has a ``{filters}`` placeholder."""
    return any(kind == "filters" for kind, _ in _scan_placeholders(hogql))


def normalise(hogql: str) -> str:
    """A whitespace-insensitive form for "did the query change?" (literals keep their spaces)."""
    parts = [t.text for t in tokenize(hogql) if t.kind in _SIGNIFICANT]
    while parts and parts[-1] == ";":
        parts.pop()
    return " ".join(parts)


# ---------------------------------------------------------------------------- translation


def _validate(tokens: list[Token]) -> list[Token]:
    """Refuse what HogQL refuses; return the tokens without a trailing semicolon."""
    sig = [i for i, t in enumerate(tokens) if t.kind in _SIGNIFICANT]
    while sig and tokens[sig[-1]].text == ";":
        tokens = tokens[: sig.pop()]
    if not sig:
        raise HogQLError("The query is empty", "query")
    for tok in tokens:
        if tok.kind == "heredoc":
            raise HogQLError(
                "Heredoc strings ($$...$$) are not supported in HogQL; use a quoted string", "query"
            )
        closed = _CLOSED.get(tok.kind)
        if (closed is not None and not closed.fullmatch(tok.text)) or (
            tok.kind == "comment" and tok.text.startswith("/*") and not tok.text.endswith("*/")
        ):
            raise HogQLError("Unterminated string, quoted identifier or comment in the query", "query")
    first = tokens[sig[0]].text.lower()
    if first not in ("select", "with", "("):
        raise HogQLError(
            f"Only SELECT queries are supported, the query starts with {tokens[sig[0]].text!r}", "query"
        )
    depth = 0
    for i in sig:
        text = tokens[i].text
        if text == ";":
            raise HogQLError("A query must be a single statement (found ';')", "query")
        depth += {"(": 1, ")": -1}.get(text, 0)
        if depth < 0:
            raise HogQLError("Unbalanced parentheses: ')' without '('", "query")
    if depth:
        raise HogQLError("Unbalanced parentheses: '(' without ')'", "query")
    return tokens


def _matching_parens(tokens: list[Token]) -> dict[int, int]:
    stack, match = [], {}
    for i, tok in enumerate(tokens):
        if tok.kind == "punct" and tok.text == "(":
            stack.append(i)
        elif tok.kind == "punct" and tok.text == ")" and stack:
            match[stack.pop()] = i
    return match


def _unquote(tok: Token) -> str | None:
    if tok.kind == "ident":
        return tok.text
    if tok.kind in ("qident", "string"):
        q = tok.text[0]
        return re.sub(r"\\(.)", r"\1", tok.text[1:-1].replace(q + q, q))
    return None


def _property_chain(tokens: list[Token], i: int) -> tuple[str, list[str], int] | None:
    """At ``[qualifier .] properties .key [.key | ['key']]*``: (column sql, keys, index after)."""
    column, j = None, i
    if tokens[i].kind == "ident" and tokens[i].text == "properties":
        if i > 0 and tokens[i - 1].text == ".":
            return None
        column, j = "properties", i + 1
    elif tokens[i].kind in ("ident", "qident") and tokens[i + 1 : i + 3] == [
        Token("punct", "."),
        Token("ident", "properties"),
    ]:
        if i > 0 and tokens[i - 1].text == ".":
            return None
        column, j = tokens[i].text + ".properties", i + 3
    if column is None:
        return None
    keys: list[str] = []
    while j + 1 < len(tokens):
        if tokens[j].text == "." and tokens[j + 1].kind in ("ident", "qident", "number"):
            keys.append(_unquote(tokens[j + 1]) or tokens[j + 1].text)
            j += 2
        elif (
            tokens[j].text == "["
            and j + 2 < len(tokens)
            and tokens[j + 1].kind == "string"
            and tokens[j + 2].text == "]"
        ):
            keys.append(_unquote(tokens[j + 1]) or "")
            j += 3
        else:
            break
    return (column, keys, j) if keys else None


def translate(
    hogql: str,
    variables: Mapping[str, Any] | None = None,
    filters: Mapping[str, Any] | None = None,
    *,
    tables: Collection[str] = PROJECT_TABLES,
) -> Translated:
    """Translate HogQL into ClickHouse SQL plus parameters; raise HogQLError for what cannot run.

    >>> sql = translate("SELECT properties.$os FROM events LIMIT 5").sql
    >>> sql.startswith("SELECT replaceRegexpAll(nullIf(nullIf(JSONExtractRaw(properties, '$os')")
    True
    >>> sql.endswith("AS `$os` FROM events LIMIT 5")
    True
    """
    variables = variables or {}
    tokens = _validate(tokenize(hogql))
    parens = _matching_parens(tokens)
    params = Params()
    out: list[str] = []
    inserts: dict[int, str] = {}
    missing: list[str] = []
    used: set[str] = set()
    depth, has_limit, select_depths = 0, False, set()
    prev_sig = ""
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        low = tok.text.lower()
        if tok.kind == "punct" and tok.text == "{":
            ph = _placeholder(tokens, i)
            if ph is not None and ph[0] == "raw":
                raise HogQLError(
                    "Placeholders look like {variables.name} or {filters}; "
                    "ClickHouse {name:Type} slots are not allowed",
                    "query",
                )
            if ph is not None and ph[0] == "variable":
                name = ph[1] or ""
                used.add(name)
                if name not in variables:
                    missing.append(name)
                else:
                    out.append(params.add(f"v_{name}", variables[name], f"variable {name!r}"))
                i, prev_sig = ph[2] + 1, "}"
                continue
            if ph is not None and ph[0] == "filters":
                out.append(filters_condition(filters, params))
                i, prev_sig = ph[2] + 1, "}"
                continue
        chain = _property_chain(tokens, i) if tok.kind in ("ident", "qident") else None
        if chain is not None:
            column, keys, after = chain
            expr = property_read(column, keys)
            nxt = next((t for t in tokens[after:] if t.kind in _SIGNIFICANT), None)
            ends_item = nxt is None or nxt.text in (",", ")") or nxt.text.lower() in _CLAUSE_END
            if (
                depth in select_depths
                and prev_sig in ("select", "distinct", ",")
                and ends_item
                and keys[-1] not in _EVENT_COLUMNS
            ):
                # PostHog names a bare property column after its key.
                expr += " AS `" + keys[-1].replace("\\", "\\\\").replace("`", "\\`") + "`"
            out.append(expr)
            i, prev_sig = after, "property"
            continue
        if tok.kind == "ident" and low in _CASTS:
            k = next((k for k in range(i + 1, len(tokens)) if tokens[k].kind in _SIGNIFICANT), None)
            if k is not None and tokens[k].text == "(" and k in parens:
                out.append("accurateCastOrNull")
                inserts[parens[k]] = f", '{_CASTS[low]}'"
                i += 1
                prev_sig = low
                continue
        if tok.kind == "punct" and tok.text == "(":
            depth += 1
        elif tok.kind == "punct" and tok.text == ")":
            select_depths.discard(depth)
            depth -= 1
            out.append(inserts.pop(i, ""))
        elif tok.kind == "ident" and low == "select":
            select_depths.add(depth)
        elif tok.kind == "ident" and low in _CLAUSE_END:
            select_depths.discard(depth)
            has_limit = has_limit or (low == "limit" and depth == 0)
        out.append(tok.text)
        if tok.kind in _SIGNIFICANT:
            prev_sig = low
        i += 1
    if missing:
        names = ", ".join(sorted(set(missing)))
        raise HogQLError(f"Missing value for variable(s): {names}", "variables")
    sql = "".join(out)
    try:
        # The allowlist judges the final ClickHouse SQL: what HogQL's sugar became, with the
        # parameter slots this function bound (and no others).
        query_guard.check(sql, tables=tables, params=params.values.keys())
    except query_guard.QueryUnparseable as exc:
        raise UnparseableQuery(exc.message, sql, params.values) from None
    except query_guard.QueryRefused as exc:
        raise HogQLError(exc.message, "query") from None
    return Translated(sql, params.values, has_limit, frozenset(used))


__all__ = [
    "HogQLError",
    "Token",
    "Translated",
    "bind_value",
    "has_filters_placeholder",
    "normalise",
    "property_read",
    "referenced_variables",
    "tokenize",
    "translate",
]
