"""The endpoint catalog routes of :class:`~endpoints_dagster.client.EndpointsClient`: list, read,
create, update, delete, versions - in whichever API dialect the client speaks.

A mixin so ``client.py`` stays one job (connection, runs, queries); it uses the client's
``_http`` session, ``_dialects`` state and path helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._dialect_state import DialectState, evidence_of_endpoint, evidence_of_list, evidence_of_versions
from ._http import HttpSession, Request
from ._listing import collect_pages
from ._names import check_int, validate_endpoint_name
from .dialects import CURRENT, Dialect, endpoint_from_api, version_from_api
from .errors import EndpointNotFoundError, InvalidRequestError, PostHogEndpointsError
from .models import Endpoint, EndpointVersion, expand_query, same_query

__all__ = ["CatalogRoutes"]


def _query_of(name: str, query: Any) -> dict[str, Any]:
    """``expand_query``, its refusal naming the endpoint and the field (before anything is sent)."""
    try:
        return expand_query(query)
    except ValueError as exc:
        raise InvalidRequestError(
            f"Endpoint {name!r}: {exc} Got {type(query).__name__}.", endpoint=name, attr="query"
        ) from None


class CatalogRoutes:
    """Endpoint and version routes; mixed into ``EndpointsClient``."""

    _http: HttpSession
    _dialects: DialectState

    def _base(self) -> str:
        raise NotImplementedError

    def _path(self, name: str, *rest: str) -> str:
        raise NotImplementedError

    # -- endpoints CRUD --------------------------------------------------------------------------

    def list_endpoints(self, *, is_active: bool | None = None, created_by: int | None = None) -> list[Endpoint]:
        """All endpoints of the project, inactive ones too unless ``is_active`` filters them.

        Paginated answers (PostHog today) are followed page by page to the end. Deleted endpoints
        are absent (PostHog today soft-deletes them; their names can be reused).
        """
        params: dict[str, Any] = {}
        if is_active is not None:
            params["is_active"] = "true" if is_active else "false"
        if created_by is not None:
            params["created_by"] = int(created_by)
        items, first = collect_pages(
            lambda page: self._http.json(Request("GET", self._base(), "list", params=page)), params,
            what="the project's endpoints",
        )
        self._dialects.observe(evidence_of_list(first), "its list of endpoints is written in it")
        return [endpoint_from_api(item) for item in items]

    def get_endpoint(self, name: str) -> Endpoint:
        """One endpoint by name; :class:`EndpointNotFoundError` if it does not exist (or was deleted)."""
        body = self._http.json(Request("GET", self._path(name), "read", endpoint=name))
        self._dialects.observe(evidence_of_endpoint(body), f"endpoint {name!r} is written in it")
        return endpoint_from_api(body)

    def _write(self, name: str, build: Callable[[Dialect], Request]) -> Endpoint:
        """Send a create/update built in the active dialect; resent once as current if refused as a dialect."""
        dialect = self._dialects.active
        request = build(dialect)
        try:
            body = self._http.json(request)
        except InvalidRequestError as exc:
            if not self._dialects.may_switch(dialect, exc):
                raise
            again = build(self._dialects.switch_after_refusal(exc))  # may refuse a value before sending
            if again.json == request.json:  # the same body would be refused the same way
                raise
            body = self._http.json(again)
        self._dialects.observe(evidence_of_endpoint(body), f"endpoint {name!r} is written in it")
        return endpoint_from_api(body)

    def _read_back(self, name: str) -> Endpoint | None:
        try:
            return self.get_endpoint(name)
        except EndpointNotFoundError:
            return None

    def create_endpoint(
        self,
        name: str,
        query: dict[str, Any] | str,
        *,
        description: str | None = None,
        is_active: bool | None = None,
        cache_age_seconds: int | None = None,
        is_materialized: bool | None = None,
    ) -> Endpoint:
        """Create an endpoint; ``query`` as text means ``{"kind": "HogQLQuery", "query": text}``.

        ``cache_age_seconds`` is sent as ``data_freshness_seconds`` to PostHog today, which allows
        only 900, 1800, 3600, 21600, 43200, 86400 or 604800; another value is refused before sending.

        Not retried blindly: after an ambiguous failure (timeout, dropped connection) the endpoint is
        read back and returned if it exists with the same query; if absent, the create is resent.

        Example::

            client.create_endpoint("daily_signups", "SELECT toDate(timestamp) AS day, count() FROM events GROUP BY day")
        """
        validate_endpoint_name(name)  # before anything is built or sent
        query_dict = _query_of(name, query)
        fields: dict[str, Any] = {"name": name, "query": query_dict}
        optional = dict(description=description, is_active=is_active, cache_age_seconds=cache_age_seconds)
        optional["is_materialized"] = is_materialized
        fields.update({key: value for key, value in optional.items() if value is not None})

        def reconcile(error: PostHogEndpointsError) -> tuple[bool, Any]:
            existing = self._read_back(name)
            if existing is None:
                return False, None
            if same_query(existing.query, query_dict):
                return True, existing.raw
            raise InvalidRequestError(
                f"Creating endpoint {name!r} failed ambiguously ({error.message}), and an endpoint with that "
                "name now exists with a different query. Check it in PostHog, then update or delete it.",
                endpoint=name,
                attr="name",
            ) from error

        return self._write(name, lambda dialect: Request(
            "POST", self._base(), "create", endpoint=name, json=dialect.endpoint_fields(name, fields), ok=(201, 200),
            idempotent=False, reconcile=reconcile,
        ))

    def update_endpoint(self, name: str, **fields: Any) -> Endpoint:
        """Change fields of an endpoint (PATCH): ``query``, ``description``, ``is_active``,
        ``cache_age_seconds`` (``data_freshness_seconds`` on PostHog today, see :meth:`create_endpoint`),
        ``is_materialized``, ... A changed query makes a new version.

        After an ambiguous failure the endpoint is read back; if the fields already hold the sent
        values it is returned, otherwise the PATCH is resent (setting the same values is harmless).
        """
        path = self._path(name)
        if not fields:
            raise ValueError(f"update_endpoint({name!r}) needs at least one field to change, e.g. description='...'.")
        if "query" in fields:
            fields["query"] = _query_of(name, fields["query"])

        def request(dialect: Dialect) -> Request:
            wire = dialect.endpoint_fields(name, fields)

            def reconcile(error: PostHogEndpointsError) -> tuple[bool, Any]:
                existing = self._read_back(name)
                if existing is None:
                    raise error
                for key, value in wire.items():
                    current = existing.raw.get(key)
                    if not (same_query(current, value) if key == "query" and current else current == value):
                        return False, None
                return True, existing.raw

            return Request("PATCH", path, "update", endpoint=name, json=wire, idempotent=False, reconcile=reconcile)

        return self._write(name, request)

    def delete_endpoint(self, name: str) -> None:
        """Delete an endpoint. After an ambiguous failure, a 404 on read-back counts as deleted.

        PostHog today soft-deletes: the endpoint disappears from every route (404, absent from
        lists) and its name can be reused at once by a new endpoint, which starts again at
        version 1; the old one cannot be restored through the API. A documented server deletes for good.
        """
        path = self._path(name)

        def reconcile(error: PostHogEndpointsError) -> tuple[bool, Any]:
            return self._read_back(name) is None, None

        request = Request(
            "DELETE", path, "delete", endpoint=name, ok=(204, 200, 202), idempotent=False, reconcile=reconcile
        )
        self._http.json(request)

    # -- versions ----------------------------------------------------------------------------------

    def list_versions(self, name: str) -> list[EndpointVersion]:
        """Every version of an endpoint, newest first (paginated answers followed to the end)."""
        path = self._path(name, "versions")
        items, first = collect_pages(
            lambda page: self._http.json(Request("GET", path, "list versions of", endpoint=name, params=page)), {},
            what=f"the versions of endpoint {name!r}", endpoint=name,
        )
        self._dialects.observe(evidence_of_versions(first), f"the versions of endpoint {name!r} are written in it")
        return [version_from_api(item) for item in items]

    def get_version(self, name: str, version: int) -> EndpointVersion:
        """One version of an endpoint; :class:`EndpointNotFoundError` naming the version if absent.

        Documented servers answer ``versions/{n}/``, PostHog today ``GET {name}/?version=n``. While
        ``auto`` has no evidence yet, a bare 404 from the first route is tried once on the second.
        """
        number = check_int(f"version of endpoint {name!r}", version, 1)

        def read(dialect: Dialect) -> Any:
            parts, params = dialect.version_route(number)
            request = Request("GET", self._path(name, *parts), "read a version of", endpoint=name, version=number,
                              params=params or None)
            return self._http.json(request)

        try:
            body = read(self._dialects.active)
        except EndpointNotFoundError as exc:
            if self._dialects.known or getattr(exc, "version", None) is not None:
                raise
            body = read(CURRENT)
        if not isinstance(body, dict) or "version" not in body:
            raise PostHogEndpointsError(
                f"PostHog answered a read of version {number} of endpoint {name!r} without a version. Set "
                "api_dialect to 'documented' or 'current' to match the server.", endpoint=name,
            )
        if "version_id" in body:  # an endpoint seen at a version: only the current dialect answers so
            self._dialects.observe("current", f"version {number} of endpoint {name!r} is written in it")
        return version_from_api(body)
