"""Endpoint files: one HogQL file per endpoint, its settings in a YAML header, parsed and checked.

A file ``daily_signups.sql`` describes the endpoint ``daily_signups``. Its settings sit in a
leading block of ``--`` comment lines (or in a sidecar ``daily_signups.yaml``), the query below::

    -- description: Signups per day in [since, until).
    -- variables:
    --   since: {type: Date, default: "2026-10-01"}
    --   until: {type: Date, default: "2026-11-01"}
    -- cache_age_seconds: 3600
    -- tags: [growth]

    SELECT toDate(timestamp) AS day, count() AS signups
    FROM events
    WHERE event = 'signup' AND timestamp >= {variables.since} AND timestamp < {variables.until}
    GROUP BY day ORDER BY day

Every file of a folder is checked before anything is sent: a bad name, a header that does not
parse, an unknown setting or a variable used but not declared is an :class:`EndpointFileError`
naming the file and line. :func:`load_endpoint_files` reports all of them at once.

>>> spec = parse_endpoint_text("x.sql", "-- variables: {n: 3}\\nSELECT {variables.n}")
>>> spec.name, spec.variables["n"].default, spec.variables["n"].type
('x', 3, 'Number')
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from endpoints_dagster.as_code.hogql_text import normalized
from endpoints_dagster.client.names import ENDPOINT_NAME_PATTERN

__all__ = [
    "DEFAULT_SETTINGS",
    "EXPECTATION_KEYS",
    "LOCK_FILE_NAME",
    "SETTING_KEYS",
    "VARIABLE_TYPES",
    "EndpointFile",
    "EndpointFileError",
    "EndpointFilesError",
    "Expectations",
    "Variable",
    "infer_type",
    "load_endpoint_files",
    "parse_endpoint_file",
    "parse_endpoint_text",
]

#: ``{variables.code_name}`` placeholders of a HogQL query.
PLACEHOLDER = re.compile(r"\{\s*variables\.([A-Za-z_][A-Za-z0-9_]*)\s*\}")
CODE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: The variable types of PostHog's SQL variables.
VARIABLE_TYPES = ("String", "Number", "Boolean", "Date", "List")
#: Header keys that are PostHog settings (the names of the endpoint API's fields).
SETTING_KEYS = ("description", "cache_age_seconds", "is_materialized", "is_active")
EXPECTATION_KEYS = ("columns", "min_rows")
#: What PostHog holds for a setting nobody set; a setting left out of a file means this.
DEFAULT_SETTINGS: dict[str, Any] = {
    "description": "",
    "cache_age_seconds": None,
    "is_materialized": False,
    "is_active": True,
}
_HEADER_KEYS = (*SETTING_KEYS, "variables", "tags", "expect")
LOCK_FILE_NAME = "endpoints.lock.json"


class EndpointFileError(ValueError):
    """One endpoint file is wrong; the message names the file, the line and what to do."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


class EndpointFilesError(ValueError):
    """Several endpoint files are wrong; ``errors`` holds each :class:`EndpointFileError`."""

    def __init__(self, errors: Sequence[EndpointFileError]) -> None:
        self.errors = list(errors)
        lines = "\n".join(f"  {error}" for error in self.errors)
        super().__init__(f"{len(self.errors)} endpoint file(s) refused, nothing was sent:\n{lines}")


@dataclass(frozen=True)
class Variable:
    """A declared variable: its PostHog type (String, Number, Boolean, Date or List) and default."""

    code_name: str
    type: str
    default: Any


@dataclass(frozen=True)
class Expectations:
    """What a query must return with its default variables (checked by ``check_endpoint_files``).

    ``columns``: names that must be present, or ``{name: ClickHouse type}``;
    ``min_rows``: at least that many rows.
    """

    columns: tuple[str, ...] | Mapping[str, str] | None = None
    min_rows: int | None = None


@dataclass(frozen=True)
class EndpointFile:
    """One endpoint as its file describes it. Settings left out of the header are PostHog's defaults."""

    name: str
    path: Path
    query: str
    description: str = ""
    variables: Mapping[str, Variable] = field(default_factory=dict)
    cache_age_seconds: int | None = None
    is_materialized: bool = False
    is_active: bool = True
    tags: tuple[str, ...] = ()
    expect: Expectations | None = None
    query_line: int = 1

    @property
    def defaults(self) -> dict[str, Any]:
        """``{code_name: default}`` of every declared variable."""
        return {code: variable.default for code, variable in self.variables.items()}

    @property
    def settings(self) -> dict[str, Any]:
        """The PostHog settings this file sets (changing them makes no new version).

        A file without ``cache_age_seconds`` leaves the cache setting alone: PostHog's default
        differs between servers (none, or 24 hours as ``data_freshness_seconds`` today).
        """
        values = {key: getattr(self, key) for key in SETTING_KEYS}
        if values["cache_age_seconds"] is None:
            del values["cache_age_seconds"]
        return values

    @property
    def code_version(self) -> str:
        """A digest of everything the file deploys (query, variable defaults, settings).

        Two files that would deploy the same endpoint have the same code version; layout, tags
        and expectations do not count (they change nothing in PostHog).
        """
        body = {"query": normalized(self.query), "variables": self.defaults, **self.settings}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
        return digest[:16]


def load_endpoint_files(folder: str | Path) -> list[EndpointFile]:
    """Every ``*.sql`` file of ``folder`` (not recursive), sorted by name.

    Raises :class:`EndpointFilesError` listing every bad file (nothing is half-loaded), or
    ``FileNotFoundError`` if the folder does not exist.

    Example::

        files = load_endpoint_files("endpoints/")
        [f.name for f in files]   # ['daily_signups', 'revenue_by_country']
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(
            f"{root}: no such folder of endpoint files (expected one NAME.sql per endpoint)."
        )
    loaded: list[EndpointFile] = []
    errors: list[EndpointFileError] = []
    for path in sorted(root.glob("*.sql")):
        try:
            loaded.append(parse_endpoint_file(path))
        except EndpointFileError as exc:
            errors.append(exc)
    stems = {path.stem for path in root.glob("*.sql")}
    for sidecar in sorted([*root.glob("*.yaml"), *root.glob("*.yml")]):
        if sidecar.stem not in stems:
            errors.append(
                EndpointFileError(
                    sidecar,
                    None,
                    f"settings for {sidecar.stem!r} but no {sidecar.stem}.sql "
                    "beside them: add the query file or remove the settings file.",
                )
            )
    if errors:
        raise EndpointFilesError(errors)
    return loaded


def parse_endpoint_file(path: str | Path) -> EndpointFile:
    """Parse one ``NAME.sql`` file (and its sidecar ``NAME.yaml``/``NAME.yml`` if present)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    sidecars = [p for p in (path.with_suffix(".yaml"), path.with_suffix(".yml")) if p.exists()]
    if len(sidecars) > 1:
        raise EndpointFileError(path, None, "both a .yaml and a .yml settings file: keep one.")
    sidecar = sidecars[0] if sidecars else None
    return parse_endpoint_text(
        path,
        text,
        sidecar_text=sidecar.read_text(encoding="utf-8") if sidecar else None,
        sidecar_path=sidecar,
    )


def _split_header(text: str) -> tuple[str, int, str, int]:
    """``(header YAML, its first line, query, query first line)``: the header is the leading ``--`` lines."""
    lines = text.splitlines()
    header: list[str] = []
    index = 0
    while index < len(lines) and lines[index].lstrip().startswith("--"):
        stripped = lines[index].lstrip()[2:]
        header.append(stripped.removeprefix(" "))
        index += 1
    while index < len(lines) and not lines[index].strip():
        index += 1
    return "\n".join(header), 1, "\n".join(lines[index:]).strip(), index + 1


def _load_yaml(path: Path, text: str, first_line: int) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise EndpointFileError(
            path,
            line,
            f"the settings do not parse as YAML ({problem}). Write `key: value` "
            "lines, e.g. `-- cache_age_seconds: 3600`.",
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise EndpointFileError(
            path,
            first_line,
            "the settings must be `key: value` lines (a YAML mapping), e.g. "
            "`-- description: ...`; a comment that is not settings goes after a blank line.",
        )
    return data


def _key_line(header: str, key: str, first_line: int) -> int:
    """The line of a key in the header, for error messages: ``variables`` or ``variables.since``.

    A nested key is looked for in the indented lines under its parent; when it is written inline
    (``variables: {since: ...}``) the parent's line is the answer.
    """
    parent, _, child = key.partition(".")
    lines = header.splitlines()
    for offset, line in enumerate(lines):
        if re.match(rf"^{re.escape(parent)}\s*:", line):
            for below, nested in enumerate(lines[offset + 1 :], start=offset + 1):
                if child and re.match(rf"^\s+{re.escape(child)}\s*:", nested):
                    return first_line + below
                if nested and not nested[0].isspace():
                    break
            return first_line + offset
    return first_line


def parse_endpoint_text(
    path: str | Path, text: str, *, sidecar_text: str | None = None, sidecar_path: str | Path | None = None
) -> EndpointFile:
    """Parse an endpoint file's text; ``path`` gives the name (its stem) and the place in errors."""
    path = Path(path)
    name = path.stem
    if not ENDPOINT_NAME_PATTERN.fullmatch(name):
        raise EndpointFileError(
            path,
            None,
            f"{name!r} is not a name PostHog accepts for an endpoint: start with a "
            "letter, then up to 127 letters, digits, '_' or '-'. Rename the file.",
        )
    header, header_line, query, query_line = _split_header(text)
    settings_path, settings_text = path, header
    if sidecar_text is not None:
        if header.strip():
            raise EndpointFileError(
                path, 1, f"settings both in the header and in {sidecar_path}: keep one place."
            )
        settings_path, settings_text = Path(sidecar_path or path.with_suffix(".yaml")), sidecar_text
    data = _load_yaml(settings_path, settings_text, header_line)

    def error(key: str, message: str) -> EndpointFileError:
        return EndpointFileError(settings_path, _key_line(settings_text, key, header_line), message)

    unknown = [key for key in data if key not in _HEADER_KEYS]
    if unknown:
        raise error(
            str(unknown[0]), f"unknown setting {unknown[0]!r}; the settings are {', '.join(_HEADER_KEYS)}."
        )
    if not query:
        raise EndpointFileError(path, query_line, "no query: write the HogQL below the settings.")
    variables = _variables(data.get("variables"), error)
    for offset, line in enumerate(query.splitlines()):
        for match in PLACEHOLDER.finditer(line):
            if match.group(1) not in variables:
                raise EndpointFileError(
                    path,
                    query_line + offset,
                    f"the query uses {{variables.{match.group(1)}}} but the settings do not declare it: add "
                    f"`{match.group(1)}: {{type: String, default: ...}}` under `variables:`.",
                )
    used = {match.group(1) for match in PLACEHOLDER.finditer(query)}
    unused = [code for code in variables if code not in used]
    if unused:
        # PostHog drops declared variables the query does not use, so the file could never match it.
        raise error(
            f"variables.{unused[0]}",
            f"variable {unused[0]!r} is declared but the query does not use "
            f"{{variables.{unused[0]}}}: use it or remove the declaration.",
        )
    return EndpointFile(
        name=name,
        path=path,
        query=query,
        description=_typed(data, "description", str, "", error) or "",
        variables=variables,
        cache_age_seconds=_cache_age(data, error),
        is_materialized=_typed(data, "is_materialized", bool, False, error),
        is_active=_typed(data, "is_active", bool, True, error),
        tags=_tags(data.get("tags"), error),
        expect=_expectations(data.get("expect"), error),
        query_line=query_line,
    )


def _typed(data: Mapping[str, Any], key: str, kind: type, default: Any, error: Any) -> Any:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise error(key, f"{key} must be a {kind.__name__}, got {value!r}.")
    return value


def _cache_age(data: Mapping[str, Any], error: Any) -> int | None:
    value = data.get("cache_age_seconds")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise error(
            "cache_age_seconds", f"cache_age_seconds must be a number of seconds (e.g. 3600), got {value!r}."
        )
    return value


def _tags(value: Any, error: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(tag, str) and tag for tag in value):
        raise error("tags", f"tags must be a list of words, e.g. [growth, finance]; got {value!r}.")
    return tuple(value)


def _variables(value: Any, error: Any) -> dict[str, Variable]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise error(
            "variables", "variables must map each code name to its default or to {type: ..., default: ...}."
        )
    out: dict[str, Variable] = {}
    for code, spec in value.items():
        if not isinstance(code, str) or not CODE_NAME.match(code):
            raise error(
                "variables", f"variable {code!r} is not a code name such as 'since' (letters, digits, '_')."
            )
        if isinstance(spec, dict):
            bad = [key for key in spec if key not in ("type", "default", "default_value")]
            if bad:
                raise error(
                    f"variables.{code}", f"variable {code!r}: unknown key {bad[0]!r}; use type and default."
                )
            declared_type = spec.get("type")
            default = spec.get("default", spec.get("default_value"))
        else:
            declared_type, default = None, spec
        default = default.isoformat() if isinstance(default, (_dt.date, _dt.datetime)) else default
        kind = declared_type or infer_type(default)
        if kind not in VARIABLE_TYPES:
            raise error(
                f"variables.{code}",
                f"variable {code!r}: type {kind!r} is not one of {', '.join(VARIABLE_TYPES)}.",
            )
        if not _fits(kind, default):
            raise error(f"variables.{code}", f"variable {code!r}: default {default!r} is not a {kind}.")
        out[code] = Variable(code, kind, default)
    return out


def infer_type(value: Any) -> str:
    """The PostHog variable type of a default value (a ``YYYY-MM-DD`` string is a ``Date``)."""
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, (int, float)):
        return "Number"
    if isinstance(value, list):
        return "List"
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}([ T][\d:.]+)?$", value):
        return "Date"
    return "String"


def _fits(kind: str, value: Any) -> bool:
    if value is None:
        return True
    return {
        "String": lambda v: isinstance(v, str),
        "Number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "Boolean": lambda v: isinstance(v, bool),
        "Date": lambda v: isinstance(v, str),
        "List": lambda v: isinstance(v, list),
    }[kind](value)


def _expectations(value: Any, error: Any) -> Expectations | None:
    if value is None:
        return None
    if not isinstance(value, dict) or any(key not in EXPECTATION_KEYS for key in value):
        raise error(
            "expect", f"expect takes {' and '.join(EXPECTATION_KEYS)}, e.g. {{columns: [day], min_rows: 1}}."
        )
    columns = value.get("columns")
    if columns is not None:
        if isinstance(columns, list) and all(isinstance(c, str) for c in columns):
            columns = tuple(columns)
        elif not (isinstance(columns, dict) and all(isinstance(t, str) for t in columns.values())):
            raise error("expect", "expect.columns is a list of names or a {name: ClickHouse type} mapping.")
    min_rows = value.get("min_rows")
    if min_rows is not None and (isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 0):
        raise error("expect", f"expect.min_rows must be a whole number, got {min_rows!r}.")
    return Expectations(columns=columns, min_rows=min_rows)
