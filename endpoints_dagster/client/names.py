"""Validation of everything that ends up in a URL or a header, before any URL is built.

Endpoint names go straight into URL paths, so they are checked against PostHog's own rule
(``ENDPOINT_NAME_REGEX`` in PostHog's endpoints API) instead of being escaped: a name that PostHog
would refuse can never exist, and refusing it here means ``../x`` or ``%2e%2e`` can never reach a
path.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from endpoints_dagster.client.errors import InvalidEndpointNameError

__all__ = [
    "ENDPOINT_NAME_PATTERN",
    "check_int",
    "check_seconds",
    "normalize_host",
    "validate_api_key",
    "validate_endpoint_name",
    "validate_project_id",
    "validate_query_id",
]

ENDPOINT_NAME_PATTERN = re.compile(r"[a-zA-Z][a-zA-Z0-9_-]{0,127}")
# Query ids are ours (uuid4 hex) or PostHog's (uuid); be generous but keep them path-safe.
_QUERY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def validate_endpoint_name(name: object) -> str:
    """Return ``name`` if PostHog accepts it as an endpoint name, else raise.

    >>> validate_endpoint_name("daily_signups")
    'daily_signups'
    """
    if isinstance(name, str) and ENDPOINT_NAME_PATTERN.fullmatch(name):
        return name
    shown = repr(name) if not isinstance(name, str) or len(name) <= 60 else repr(name[:60] + "...")
    if isinstance(name, str) and len(name) > 128:
        why = f"it is {len(name)} characters long (at most 128)"
    elif isinstance(name, str) and name and not name[0].isalpha():
        why = "it must start with a letter"
    elif not isinstance(name, str):
        why = f"it is a {type(name).__name__}, not a string"
    elif not name:
        why = "it is empty"
    else:
        why = "it may contain only letters, digits, '_' and '-'"
    raise InvalidEndpointNameError(
        f"Invalid endpoint name {shown}: {why}. PostHog endpoint names match "
        f"^[a-zA-Z][a-zA-Z0-9_-]{{0,127}}$; use the name exactly as shown in PostHog.",
        endpoint=name if isinstance(name, str) else None,
    )


def validate_query_id(query_id: object) -> str:
    """Return ``query_id`` if it is safe to put in a URL path, else raise ``ValueError``."""
    if isinstance(query_id, str) and _QUERY_ID_PATTERN.fullmatch(query_id):
        return query_id
    raise ValueError(
        f"Invalid query id {query_id!r}: expected the id PostHog returned in query_status.id "
        "(letters, digits, '-', '_', '.', ':')."
    )


def validate_project_id(project_id: object) -> int:
    """Return the project id as an int; accept ints and digit strings ("12345")."""
    if isinstance(project_id, bool):
        raise ValueError(f"project_id must be a PostHog project id (a positive integer), not {project_id!r}.")
    if isinstance(project_id, int):
        value = project_id
    elif isinstance(project_id, str) and project_id.strip().isdigit():
        value = int(project_id.strip())
    else:
        raise ValueError(
            f"project_id must be a PostHog project id (a positive integer such as 12345), got {project_id!r}. "
            "Find it in PostHog under Project settings, or in the URL /project/<id>/."
        )
    if value <= 0:
        raise ValueError(f"project_id must be a positive integer, got {value}.")
    return value


def _is_loopback(hostname: str) -> bool:
    hostname = hostname.lower().rstrip(".")
    if hostname in _LOOPBACK_NAMES or hostname.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def normalize_host(host: str, *, allow_insecure_http: bool = False) -> str:
    """Return ``scheme://host[:port][/prefix]`` without a trailing slash.

    A host without a scheme gets ``https://``. ``http://`` is refused unless the host is loopback
    (a local server) or ``allow_insecure_http`` is set: the API key travels in a header.
    """
    if not isinstance(host, str) or not host.strip():
        raise ValueError(
            "host must be the PostHog URL, e.g. 'https://us.posthog.com' or 'https://eu.posthog.com'."
        )
    raw = host.strip()
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"host {host!r} is not an http(s) URL; use e.g. 'https://us.posthog.com' "
            "(or 'http://127.0.0.1:PORT' for a local server)."
        )
    if parts.username or parts.password:
        raise ValueError("host must not contain credentials; pass the API key as personal_api_key instead.")
    if parts.query or parts.fragment:
        raise ValueError(f"host {host!r} must not contain a query string or fragment.")
    if scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise ValueError(
            f"Refusing plain http:// for non-loopback host {parts.hostname!r}: the API key would travel "
            "unencrypted. Use https://, or set allow_insecure_http=True if you really mean it."
        )
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def validate_api_key(api_key: object) -> str:
    """Return the key stripped of surrounding whitespace; never echo it in an error."""
    if not isinstance(api_key, str) or not api_key.strip():
        raise ValueError(
            "personal_api_key is empty: create a personal API key in PostHog (scope endpoint:read, and "
            "endpoint:write to manage endpoints) and pass it, e.g. via dg.EnvVar('POSTHOG_PERSONAL_API_KEY')."
        )
    key = api_key.strip()
    # A control character or space would make httpx raise an error that quotes the header value.
    if not key.isprintable() or any(ch.isspace() for ch in key) or not key.isascii():
        raise ValueError(
            "personal_api_key contains whitespace, control or non-ASCII characters; copy the key again "
            "(the value is not shown here on purpose)."
        )
    return key


def check_int(label: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` if it is an int in ``[low, high]``, else a ``ValueError`` naming ``label``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"from {low:,} to {high:,}" if high is not None else f">= {low:,}"
        raise ValueError(f"{label} must be an integer {bound}, got {value!r}.")
    return value


def check_seconds(label: str, value: object) -> float:
    """``value`` as float seconds if it is a positive number, else a ``ValueError`` naming ``label``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{label} must be a positive number of seconds, got {value!r}.")
    return float(value)
