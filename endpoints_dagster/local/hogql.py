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
- ``{filters}`` becomes a condition built from ``filters_override``, again with parameters only.

A small lexer (strings, quoted identifiers, comments, heredocs) drives the rewrite, so nothing
inside a literal or comment is touched, and it refuses what HogQL refuses: more than one
statement, anything but SELECT, and table functions that reach outside the database.

>>> t = translate("SELECT count() FROM events WHERE event = {variables.e}", {"e": "signup"})
>>> t.sql, t.params
('SELECT count() FROM events WHERE event = {v_e:String}', {'v_e': 'signup'})
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple


class HogQLError(ValueError):
    """The query or one of its values cannot run. ``message`` is user-facing; ``attr`` the field."""

    def __init__(self, message: str, attr: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.attr = attr


class Token(NamedTuple):
    kind: str  # ws comment string qident heredoc number ident punct
    text: str


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
    return [Token(m.lastgroup if m.lastgroup != "tag" else "heredoc", m.group()) for m in _TOKEN_RE.finditer(sql)]


_SIGNIFICANT = frozenset({"string", "qident", "heredoc", "number", "ident", "punct"})
# Table functions that read files, the network or other servers: HogQL has none of them.
_BLOCKED_FUNCTIONS = frozenset(
    """file url urlcluster s3 s3cluster gcs azureblobstorage azureblobstoragecluster hdfs
    hdfscluster remote remotesecure cluster clusterallreplicas mysql postgresql jdbc odbc
    sqlite mongodb redis executable input iceberg icebergs3 deltalake hudi dictionary
    filesystem fuzzjson generaterandom loop merge""".split()
)
_CLAUSE_END = frozenset(
    "from where prewhere group having order limit window qualify settings union except intersect into format".split()
)
_CASTS = {"tofloat": "Float64", "toint": "Int64"}
_EVENT_COLUMNS = frozenset({"uuid", "event", "distinct_id", "person_id", "timestamp", "properties"})
_CLOSED = {
    "string": re.compile(r"'(?:[^'\\]|\\.|'')*'", re.S),
    "qident": re.compile(r"`(?:[^`\\]|\\.|``)*`|\"(?:[^\"\\]|\\.|\"\")*\"", re.S),
}
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ISO_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T| )\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$")


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


# ---------------------------------------------------------------------------- binding


def _escaped(text: str) -> str:
    # Parameter values are read in ClickHouse's "Escaped" text format: a raw tab or newline
    # would end the value, a backslash starts an escape.
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r").replace("\0", "\\0")


def sql_string(text: str) -> str:
    """``text`` as a ClickHouse single-quoted literal (for keys from the query text, not values)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\0", "\\0") + "'"


def _normalise_datetime(text: str) -> str:
    # ClickHouse compares DateTime64 with a string only in 'YYYY-MM-DD[ hh:mm:ss[.f]]' form; PostHog
    # parses ISO 8601 (T, Z, offsets) best-effort. Rewrite such a value to UTC in ClickHouse form.
    m = _ISO_DATETIME_RE.match(text)
    if not m or (m.group(1) == " " and not m.group(4)):
        return text
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed.strftime("%Y-%m-%d %H:%M:%S.%f" if parsed.microsecond else "%Y-%m-%d %H:%M:%S")


def _scalar_type(value: Any, where: str) -> str:
    if value is None:
        return "Nothing"
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return "Int64"
        if 0 <= value < 2**64:
            return "UInt64"
        raise HogQLError(f"{where}: the integer {value} is out of range (64 bits at most)")
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, str):
        return "String"
    if isinstance(value, (list, tuple)):
        return f"Array({_element_type(value, where)})"
    raise HogQLError(f"{where}: a value of type {type(value).__name__} cannot be bound; use a string, number, bool, null or list")


def _element_type(values: list | tuple, where: str) -> str:
    kinds = {_scalar_type(v, where) for v in values}
    nullable = "Nothing" in kinds
    kinds.discard("Nothing")
    if kinds == {"Int64", "Float64"} or kinds == {"UInt64", "Float64"}:
        kinds = {"Float64"}
    if kinds == {"Int64", "UInt64"}:
        kinds = {"UInt64"} if all(v is None or v >= 0 for v in values) else {"Float64"}
    if len(kinds) > 1:
        raise HogQLError(f"{where}: a list must hold values of one type, got {', '.join(sorted(kinds))}")
    kind = kinds.pop() if kinds else ("String" if nullable else "Nothing")
    return f"Nullable({kind})" if nullable and not kind.startswith("Array") else kind


def _quoted(value: Any) -> str:
    # Array parameters are read as a ClickHouse literal: strings single-quoted and escaped.
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return sql_string(value).replace("\t", "\\t").replace("\r", "\\r")
    return "[" + ",".join(_quoted(v) for v in value) + "]"


def bind_value(value: Any, where: str = "value") -> tuple[str, str]:
    """(ClickHouse type, parameter text) for a JSON value; ``where`` names it in errors.

    >>> bind_value("a\\tb"), bind_value(None), bind_value([1, 2.5])
    (('String', 'a\\\\tb'), ('Nullable(String)', '\\\\N'), ('Array(Float64)', '[1,2.5]'))
    """
    kind = _scalar_type(value, where)
    if value is None:
        return "Nullable(String)", "\\N"
    if isinstance(value, str):
        return kind, _escaped(_normalise_datetime(value))
    if isinstance(value, (list, tuple)):
        return kind, _quoted(list(value))
    return kind, _quoted(value)


class _Params:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.count = 0

    def add(self, name: str, value: Any, where: str, ch_type: str | None = None) -> str:
        kind, text = bind_value(value, where)
        if ch_type is not None:
            kind = ch_type
        self.values[name] = text
        return "{" + name + ":" + kind + "}"

    def fresh(self, value: Any, where: str, ch_type: str | None = None) -> str:
        self.count += 1
        return self.add(f"f_{self.count}", value, where, ch_type)


# ---------------------------------------------------------------------------- filters


def property_read(column: str, keys: list[str]) -> str:
    """PostHog's read of ``column.key1.key2`` from JSON text: a Nullable(String)."""
    args = ", ".join(sql_string(k) for k in keys)
    return f"replaceRegexpAll(nullIf(nullIf(JSONExtractRaw({column}, {args}), ''), 'null'), '^\"|\"$', '')"


_RELATIVE_RE = re.compile(r"^-(\d+)([hdwmyq])(Start)?$")


def _parse_date(value: Any, field: str, *, end: bool) -> tuple[datetime, bool] | None:
    """A filter date as (UTC datetime, inclusive). Relative forms: -7d, -24h, -2w, -3m, -1y, mStart."""
    if value is None or value == "all":
        return None
    where = f"filters_override.{field}"
    if not isinstance(value, str):
        raise HogQLError(f"{where} must be a date string such as '2026-01-31' or '-7d'", "filters_override")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    text = value.strip()
    starts = {"dStart": now.replace(hour=0, minute=0, second=0, microsecond=0)}
    starts["mStart"] = starts["dStart"].replace(day=1)
    starts["yStart"] = starts["mStart"].replace(month=1)
    if text in starts:
        return starts[text], True
    m = _RELATIVE_RE.match(text)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        days = {"h": n / 24, "d": n, "w": 7 * n, "m": 30 * n, "q": 91 * n, "y": 365 * n}[unit]
        moment = now - timedelta(days=days)
        if m.group(3):
            moment = moment.replace(minute=0, second=0, microsecond=0) if unit == "h" else moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return moment, True
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = datetime.fromisoformat(text)
            # A bare date_to means "through the end of that day", as in PostHog.
            return (day + timedelta(days=1), False) if end else (day, True)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HogQLError(f"{where}: cannot read {value!r}; use YYYY-MM-DD, an ISO datetime or a relative date like -7d", "filters_override") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed, True


def _property_condition(prop: Any, params: _Params) -> str:
    if not isinstance(prop, Mapping):
        raise HogQLError("filters_override.properties: each entry must be an object {key, value, operator}", "filters_override")
    if "values" in prop and "key" not in prop:  # a property group {"type": "AND"|"OR", "values": [...]}
        joiner = " OR " if str(prop.get("type", "AND")).upper() == "OR" else " AND "
        parts = [_property_condition(p, params) for p in prop.get("values") or []]
        return "(" + joiner.join(parts) + ")" if parts else "true"
    key, op, value = prop.get("key"), prop.get("operator") or "exact", prop.get("value")
    where = f"filters_override.properties[{key!r}]"
    if not isinstance(key, str) or not key:
        raise HogQLError("filters_override.properties: every entry needs a 'key' string", "filters_override")
    if prop.get("type", "event") not in ("event", None):
        raise HogQLError(f"{where}: only event properties can be filtered here (type 'event')", "filters_override")
    read = property_read("properties", [key])
    if op in ("is_set", "is_not_set"):
        return f"({read} IS {'NOT ' if op == 'is_set' else ''}NULL)"
    if op in ("gt", "gte", "lt", "lte"):
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise HogQLError(f"{where}: operator {op} needs a number, got {value!r}", "filters_override") from None
        sign = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
        return f"ifNull(toFloat64OrNull({read}) {sign} {params.fresh(number, where)}, 0)"
    texts = [_as_text(v) for v in value] if isinstance(value, list) else _as_text(value)
    if op in ("exact", "is_not"):
        negate = op == "is_not"
        if isinstance(texts, list):
            test = f"{read} {'NOT IN' if negate else 'IN'} {params.fresh(texts, where, 'Array(String)')}"
        else:
            test = f"{read} {'!=' if negate else '='} {params.fresh(texts, where)}"
        return f"ifNull({test}, {1 if negate else 0})"
    if op in ("icontains", "not_icontains", "regex", "not_regex"):
        if isinstance(texts, list):
            raise HogQLError(f"{where}: operator {op} takes one value, not a list", "filters_override")
        slot = params.fresh(texts, where)
        test = f"ilike(toString({read}), concat('%', {slot}, '%'))" if "icontains" in op else f"match(toString({read}), {slot})"
        return f"ifNull(NOT {test}, 1)" if op.startswith("not_") else f"ifNull({test}, 0)"
    raise HogQLError(
        f"{where}: unknown operator {op!r}; use exact, is_not, icontains, not_icontains, regex, not_regex, gt, gte, lt, lte, is_set or is_not_set",
        "filters_override",
    )


def _as_text(value: Any) -> str:
    # Property values are compared as the strings PostHog reads out of the JSON.
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        raise HogQLError(f"filters_override: cannot compare a property with {value!r}", "filters_override")
    return str(value)


def _filters_condition(filters: Mapping[str, Any] | None, params: _Params) -> str:
    if not filters:
        return "true"
    if not isinstance(filters, Mapping):
        raise HogQLError("filters_override must be an object {date_from, date_to, properties}", "filters_override")
    parts = []
    for field, sign in (("date_from", ">="), ("date_to", "<")):
        bound = _parse_date(filters.get(field), field, end=field == "date_to")
        if bound is not None:
            moment, inclusive = bound
            op = sign if not inclusive or field == "date_from" else "<="
            slot = params.fresh(moment.strftime("%Y-%m-%d %H:%M:%S.%f"), field, "DateTime64(6, 'UTC')")
            parts.append(f"timestamp {op} {slot}")
    props = filters.get("properties") or []
    if isinstance(props, Mapping):
        props = [props]
    if not isinstance(props, list):
        raise HogQLError("filters_override.properties must be a list of {key, value, operator}", "filters_override")
    parts.extend(_property_condition(p, params) for p in props)
    return "(" + " AND ".join(parts) + ")" if parts else "true"


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
            raise HogQLError("Heredoc strings ($$...$$) are not supported in HogQL; use a quoted string", "query")
        closed = _CLOSED.get(tok.kind)
        if (closed is not None and not closed.fullmatch(tok.text)) or (tok.kind == "comment" and tok.text.startswith("/*") and not tok.text.endswith("*/")):
            raise HogQLError("Unterminated string, quoted identifier or comment in the query", "query")
    first = tokens[sig[0]].text.lower()
    if first not in ("select", "with", "("):
        raise HogQLError(f"Only SELECT queries are supported, the query starts with {tokens[sig[0]].text!r}", "query")
    depth = 0
    for n, i in enumerate(sig):
        text, low = tokens[i].text, tokens[i].text.lower()
        nxt = tokens[sig[n + 1]].text if n + 1 < len(sig) else ""
        if text == ";":
            raise HogQLError("A query must be a single statement (found ';')", "query")
        depth += {"(": 1, ")": -1}.get(text, 0)
        if depth < 0:
            raise HogQLError("Unbalanced parentheses: ')' without '('", "query")
        if tokens[i].kind == "ident" and ((low in _BLOCKED_FUNCTIONS and nxt == "(") or low == "outfile"):
            raise HogQLError(f"{text!r} is not available in HogQL queries", "query")
        if tokens[i].kind == "ident" and low in ("system", "information_schema") and nxt == ".":
            raise HogQLError("System tables are not available in HogQL queries", "query")
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
    elif tokens[i].kind in ("ident", "qident") and tokens[i + 1 : i + 3] == [Token("punct", "."), Token("ident", "properties")]:
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
        elif tokens[j].text == "[" and j + 2 < len(tokens) and tokens[j + 1].kind == "string" and tokens[j + 2].text == "]":
            keys.append(_unquote(tokens[j + 1]) or "")
            j += 3
        else:
            break
    return (column, keys, j) if keys else None


def translate(hogql: str, variables: Mapping[str, Any] | None = None, filters: Mapping[str, Any] | None = None) -> Translated:
    """Translate HogQL into ClickHouse SQL plus parameters; raise HogQLError for what cannot run.

    >>> translate("SELECT properties.$os FROM events LIMIT 5").sql
    'SELECT replaceRegexpAll(nullIf(nullIf(JSONExtractRaw(properties, \\'$os\\'), \\'\\'), \\'null\\'), \\'^"|"$\\', \\'\\') AS `$os` FROM events LIMIT 5'
    """
    variables = variables or {}
    tokens = _validate(tokenize(hogql))
    parens = _matching_parens(tokens)
    params = _Params()
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
                raise HogQLError("Placeholders look like {variables.name} or {filters}; ClickHouse {name:Type} slots are not allowed", "query")
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
                out.append(_filters_condition(filters, params))
                i, prev_sig = ph[2] + 1, "}"
                continue
        chain = _property_chain(tokens, i) if tok.kind in ("ident", "qident") else None
        if chain is not None:
            column, keys, after = chain
            expr = property_read(column, keys)
            nxt = next((t for t in tokens[after:] if t.kind in _SIGNIFICANT), None)
            ends_item = nxt is None or nxt.text in (",", ")") or nxt.text.lower() in _CLAUSE_END
            if depth in select_depths and prev_sig in ("select", "distinct", ",") and ends_item and keys[-1] not in _EVENT_COLUMNS:
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
    return Translated("".join(out), params.values, has_limit, frozenset(used))


def check_name(name: str, what: str = "name") -> str:
    """``name`` if it is a plain identifier (a code name), else HogQLError."""
    if not _NAME_RE.match(name or ""):
        raise HogQLError(f"Invalid {what} {name!r}: use letters, digits and underscores", what)
    return name


__all__ = [
    "HogQLError",
    "Token",
    "Translated",
    "bind_value",
    "check_name",
    "has_filters_placeholder",
    "normalise",
    "property_read",
    "referenced_variables",
    "sql_string",
    "tokenize",
    "translate",
]
