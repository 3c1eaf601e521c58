"""Values -> ClickHouse query parameters: endpoint variables and ``filters_override``.

Every value an API caller sends reaches chDB as a typed query parameter (``{name:Type}`` in
the SQL, the value's text beside it), never as SQL text. This module picks the ClickHouse type
from the JSON value (str -> String, int -> Int64, float -> Float64, bool -> Bool, null ->
Nullable(String), list -> Array(...)), writes the value in the text form ClickHouse reads
parameters in, and turns ``filters_override`` (``date_from``, ``date_to``, ``properties``) into
a condition made of PostHog's property reads and such parameters.

>>> bind_value("2026-01-01T10:00:00+02:00")  # ISO datetimes become ClickHouse's form, in UTC
('String', '2026-01-01 08:00:00')
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any


class HogQLError(ValueError):
    """The query or one of its values cannot run. ``message`` is user-facing; ``attr`` the field."""

    def __init__(self, message: str, attr: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.attr = attr


_ISO_DATETIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(T| )\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$"
)


def _escaped(text: str) -> str:
    # Parameter values are read in ClickHouse's "Escaped" text format: a raw tab or newline
    # would end the value, a backslash starts an escape.
    return (
        text.replace("\\", "\\\\")
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
        .replace("\0", "\\0")
    )


def sql_string(text: str) -> str:
    """``text`` as a ClickHouse single-quoted literal (for keys from the query text, not values)."""
    return (
        "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\0", "\\0") + "'"
    )


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
    raise HogQLError(
        f"{where}: a value of type {type(value).__name__} cannot be bound; use a string, number, bool, null or list"
    )


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
        return (
            repr(value)
            if math.isfinite(value)
            else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
        )
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


class Params:
    """The parameters of one query: ``add`` a named one, or a ``fresh`` numbered one (filters)."""

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


# -- filters ------------------------------------------------------------------------------


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
        n, unit = int(m.group(1)[:12]), m.group(2)
        days = {"h": n / 24, "d": n, "w": 7 * n, "m": 30 * n, "q": 91 * n, "y": 365 * n}[unit]
        if len(m.group(1)) > 12 or days > _MAX_RELATIVE_DAYS:
            raise HogQLError(
                f"{where}: {_shown(value)} reaches before the year {_MIN_YEAR}", "filters_override"
            )
        moment = now - timedelta(days=days)
        if m.group(3):
            moment = (
                moment.replace(minute=0, second=0, microsecond=0)
                if unit == "h"
                else moment.replace(hour=0, minute=0, second=0, microsecond=0)
            )
        return moment, True
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = _in_range(datetime.fromisoformat(text), where, value)
            # A bare date_to means "through the end of that day", as in PostHog.
            return (day + timedelta(days=1), False) if end else (day, True)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise HogQLError(
            f"{where}: cannot read {_shown(value)}; use YYYY-MM-DD, an ISO datetime or a relative date like -7d",
            "filters_override",
        ) from None
    return _in_range(parsed, where, value), True


# DateTime64's range in ClickHouse: a date outside it is a 400 naming the field, not an engine error.
_MIN_YEAR, _MAX_YEAR = 1900, 2299
_MAX_RELATIVE_DAYS = 365 * 120


def _in_range(moment: datetime, where: str, value: Any) -> datetime:
    if not _MIN_YEAR <= moment.year <= _MAX_YEAR:
        raise HogQLError(f"{where}: {_shown(value)} is outside {_MIN_YEAR}-{_MAX_YEAR}", "filters_override")
    return moment


def _shown(value: Any) -> str:
    """A request value as an error message quotes it: at most 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _property_condition(prop: Any, params: Params) -> str:
    if not isinstance(prop, Mapping):
        raise HogQLError(
            "filters_override.properties: each entry must be an object {key, value, operator}",
            "filters_override",
        )
    if "values" in prop and "key" not in prop:  # a property group {"type": "AND"|"OR", "values": [...]}
        joiner = " OR " if str(prop.get("type", "AND")).upper() == "OR" else " AND "
        parts = [_property_condition(p, params) for p in prop.get("values") or []]
        return "(" + joiner.join(parts) + ")" if parts else "true"
    key, op, value = prop.get("key"), prop.get("operator") or "exact", prop.get("value")
    where = f"filters_override.properties[{key!r}]"
    if not isinstance(key, str) or not key:
        raise HogQLError("filters_override.properties: every entry needs a 'key' string", "filters_override")
    if prop.get("type", "event") not in ("event", None):
        raise HogQLError(
            f"{where}: only event properties can be filtered here (type 'event')", "filters_override"
        )
    read = property_read("properties", [key])
    if op in ("is_set", "is_not_set"):
        return f"({read} IS {'NOT ' if op == 'is_set' else ''}NULL)"
    if op in ("gt", "gte", "lt", "lte"):
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise HogQLError(
                f"{where}: operator {op} needs a number, got {value!r}", "filters_override"
            ) from None
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
        test = (
            f"ilike(toString({read}), concat('%', {slot}, '%'))"
            if "icontains" in op
            else f"match(toString({read}), {slot})"
        )
        return f"ifNull(NOT {test}, 1)" if op.startswith("not_") else f"ifNull({test}, 0)"
    raise HogQLError(
        f"{where}: unknown operator {op!r}; use exact, is_not, icontains, not_icontains, regex, not_regex, "
        "gt, gte, lt, lte, is_set or is_not_set",
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


def filters_condition(filters: Mapping[str, Any] | None, params: Params) -> str:
    if not filters:
        return "true"
    if not isinstance(filters, Mapping):
        raise HogQLError(
            "filters_override must be an object {date_from, date_to, properties}", "filters_override"
        )
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
        raise HogQLError(
            "filters_override.properties must be a list of {key, value, operator}", "filters_override"
        )
    parts.extend(_property_condition(p, params) for p in props)
    return "(" + " AND ".join(parts) + ")" if parts else "true"
