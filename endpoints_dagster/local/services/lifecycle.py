"""Endpoint lifecycle: create, update (versions, activation, materialization), delete.

The routes and ``--demo`` seeding both go through here, so the demo endpoints are made
exactly as an API client would make them. Update follows PostHog's order: validate the
final state, version a changed query, update endpoint-level fields, then turn
materialization on or off for the (possibly new) current version.

Example::

    view = catalog.create(1, {"name": "top_events", "query": {...}}, user_id=1)
    view = catalog.update(view.row, {"query": {...}}, user_id=1)   # new version if changed
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from endpoints_dagster.local import api_errors
from endpoints_dagster.local.dialects.documented import EndpointView, QueryFacts
from endpoints_dagster.local.server.auth import Authenticator
from endpoints_dagster.local.services.materialization import Materializer
from endpoints_dagster.local.services.stored_query import comparable
from endpoints_dagster.local.storage.store import DuplicateName, EndpointRow, Store, VersionRow


class Catalog:
    def __init__(
        self,
        store: Store,
        auth: Authenticator,
        materializer: Materializer,
        normalise: Callable[[str], str],
        syntax_error: Callable[[str], str | None] | None = None,
        referenced_variables: Callable[[str], set[str]] | None = None,
        check_query: Callable[[dict[str, Any]], None] = lambda query: None,
    ) -> None:
        self._store = store
        self._auth = auth
        self._materializer = materializer
        self._normalise = normalise
        self._syntax_error = syntax_error or (lambda _text: None)
        self._referenced = referenced_variables or (lambda _text: set())
        # Refuses (400) a query the allowlist refuses, before it is stored (see query_guard.py).
        self._check_query = check_query

    def facts(self, query: dict[str, Any]) -> QueryFacts:
        """What the engine can tell of a (validated) query before it is saved."""
        text = query["query"]
        return QueryFacts(syntax_error=self._syntax_error(text), variables=frozenset(self._referenced(text)))

    def view(self, row: EndpointRow, version: VersionRow | None = None) -> EndpointView:
        """The endpoint as its JSON shows it, at its current version or at ``version``."""
        if version is None:
            version = self._store.get_version(row.id, row.current_version)
            assert version is not None, f"endpoint {row.name} has no version {row.current_version}"
        return EndpointView(
            row=row,
            version=version,
            versions_count=self._store.count_versions(row.id),
            materialization=self._store.get_materialization(row.id, version.version),
        )

    def get(self, project_id: int, name: str) -> EndpointRow:
        row = self._store.get_endpoint(project_id, name)
        if row is None:
            raise api_errors.not_found()
        return row

    def create(self, project_id: int, fields: dict[str, Any], user_id: int | None) -> EndpointView:
        """``fields`` as parsed by the dialect (name and query present)."""
        is_active = fields.get("is_active", True)
        self._check_query(fields["query"])
        if not is_active and fields.get("is_materialized"):
            raise api_errors.validation_error(
                "Cannot enable materialization on inactive endpoint.", "is_materialized"
            )
        try:
            row, version = self._store.create_endpoint(
                project_id,
                fields["name"],
                query=fields["query"],
                description=fields.get("description", ""),
                is_active=is_active,
                cache_age_seconds=fields.get("cache_age_seconds"),
                created_by=user_id,
            )
        except DuplicateName:
            raise api_errors.validation_error(
                f"An endpoint named '{fields['name']}' already exists in this project; pick another name or update it.",
                "name",
                code="unique",
            ) from None
        self._auth.note_project(project_id)
        if fields.get("tags") is not None or fields.get("derived_from_insight") is not None:
            self._store.set_endpoint_labels(
                row.id, tags=fields.get("tags"), derived_from_insight=fields.get("derived_from_insight")
            )
            row = self._store.get_endpoint_by_id(row.id) or row
        if fields.get("is_materialized"):
            self._materializer.enable(row, version, fields.get("sync_frequency", "24hour"))
        return self.view(row)

    def query_changed(self, row: EndpointRow, query: dict[str, Any]) -> bool:
        current = self._store.get_version(row.id, row.current_version)
        assert current is not None
        return comparable(query, self._normalise) != comparable(current.query, self._normalise)

    def update(self, row: EndpointRow, fields: dict[str, Any], user_id: int | None) -> EndpointView:
        will_be_active = fields.get("is_active", row.is_active)
        if "query" in fields:
            self._check_query(fields["query"])
        if not will_be_active and fields.get("is_materialized") is True:
            raise api_errors.validation_error(
                "Cannot enable materialization on inactive endpoint.", "is_materialized"
            )
        was_materialized = self._store.get_materialization(row.id, row.current_version)
        sync_frequency = fields.get("sync_frequency") or (
            was_materialized.sync_frequency if was_materialized else "24hour"
        )

        if not will_be_active and was_materialized:
            self._materializer.disable(row.id, row.current_version)
        if "query" in fields and self.query_changed(row, fields["query"]):
            if was_materialized:
                self._materializer.disable(row.id, row.current_version)
            self._new_version(row, fields["query"], user_id)
        endpoint_fields = {
            k: fields[k] for k in ("description", "is_active", "cache_age_seconds") if k in fields
        }
        self._store.update_endpoint(row.id, **endpoint_fields)
        if "tags" in fields:
            self._store.set_endpoint_labels(row.id, tags=fields["tags"])

        row = self._store.get_endpoint_by_id(row.id) or row
        if "description" in fields:  # the current version shows the endpoint's (new) description again
            self._store.set_version_description(row.id, row.current_version, None)
        if will_be_active:
            version = self._store.get_version(row.id, row.current_version)
            assert version is not None
            materialized_now = self._store.get_materialization(row.id, row.current_version)
            wanted = fields.get("is_materialized")
            if wanted is True or (wanted is None and was_materialized and materialized_now is None):
                # An explicit true rebuilds, as PostHog re-schedules the saved query.
                self._materializer.enable(row, version, sync_frequency)
            elif wanted is False:
                self._materializer.disable(row.id, row.current_version)
        return self.view(row)

    def _new_version(self, row: EndpointRow, query: dict[str, Any], user_id: int | None) -> None:
        """A new current version. As PostHog's ``create_new_version`` it inherits the description the
        current one shows, and the current one keeps that description from now on."""
        current = self._store.get_version(row.id, row.current_version)
        assert current is not None
        if current.description is None:
            self._store.set_version_description(row.id, current.version, row.description)
        self._store.add_version(row.id, query, user_id, description=current.description)

    def update_version(
        self, row: EndpointRow, number: int, fields: dict[str, Any], user_id: int | None
    ) -> EndpointView:
        """An update aimed at one version (PostHog's ``crud.update`` with a version number).

        ``description`` and ``is_active`` change that version only; a deactivated version loses its
        materialization, and ``is_materialized`` turns that version's on or off. The query cannot
        change (a new query is a new version). Freshness and tags stay endpoint-wide here (PostHog
        keeps freshness per version).
        """
        version = self._store.get_version(row.id, number)
        if version is None:
            raise api_errors.validation_error(f"Version {number} not found for this endpoint.", "version")
        if "query" in fields:
            raise api_errors.validation_error(
                "Cannot change query when targeting a specific version. Query changes create a new version.",
                "query",
            )
        version_active = fields.get("is_active", version.is_active)
        # validate_update_request judges "inactive" by the body's is_active, else the endpoint's.
        if not fields.get("is_active", row.is_active) and fields.get("is_materialized") is True:
            raise api_errors.validation_error(
                "Cannot enable materialization on inactive endpoint.", "is_materialized"
            )
        if "description" in fields:
            self._store.set_version_description(row.id, number, fields["description"])
        if "is_active" in fields:
            self._store.set_version_active(row.id, number, fields["is_active"])
        if "cache_age_seconds" in fields:
            self._store.update_endpoint(row.id, cache_age_seconds=fields["cache_age_seconds"])
        if "tags" in fields:
            self._store.set_endpoint_labels(row.id, tags=fields["tags"])
        row = self._store.get_endpoint_by_id(row.id) or row
        version = self._store.get_version(row.id, number) or version
        if not version_active or fields.get("is_materialized") is False:
            self._materializer.disable(row.id, number)
        elif fields.get("is_materialized") is True and row.is_active:
            self._materializer.enable(row, version, fields.get("sync_frequency", "24hour"))
        return self.view(row, version)

    def delete(self, row: EndpointRow, *, hard: bool = True) -> None:
        """Delete; drops every materialized table first (PostHog disables materialization).

        ``hard=False`` is PostHog's soft delete (current dialect): the endpoint vanishes from
        every route, its name is free at once, and its rows stay in the state file.
        """
        self._materializer.disable_all(row.id)
        if hard:
            self._store.delete_endpoint(row.id)
        else:
            self._store.soft_delete_endpoint(row.id)
            self._store.cache_clear(row.id)

    def ensure(self, project_id: int, fields: dict[str, Any], user_id: int | None) -> EndpointView:
        """Create, or update to match (idempotent: an unchanged body makes no new version)."""
        row = self._store.get_endpoint(project_id, fields["name"])
        if row is None:
            return self.create(project_id, fields, user_id)
        changes = {k: v for k, v in fields.items() if k != "name"}
        current = self.view(row)
        if current.materialization is not None and changes.get("is_materialized") is True:
            changes.pop("is_materialized")  # already materialized: do not rebuild on every restart
        return self.update(row, changes, user_id)
