"""`PostHogEndpointsTranslator`: the one place that decides how an endpoint looks in Dagster.

Subclass it and override `get_asset_spec` to change keys, groups, owners, tags, kinds or
descriptions; the factory applies it per endpoint, never to the whole multi-asset.
"""

from __future__ import annotations

import json

import dagster as dg

from endpoints_dagster.specs import EndpointSpec

DEFAULT_GROUP = "posthog"
DEFAULT_KEY_PREFIX = ("posthog",)
MAX_TAG_VALUE_LENGTH = 63


class PostHogEndpointsTranslator:
    """Turns an `EndpointSpec` into the `AssetSpec` Dagster shows.

    Example:
        .. code-block:: python

            class MyTranslator(PostHogEndpointsTranslator):
                def get_asset_spec(self, endpoint: EndpointSpec) -> dg.AssetSpec:
                    spec = super().get_asset_spec(endpoint)
                    return spec.replace_attributes(
                        key=spec.key.with_prefix("analytics"),
                        owners=["team:growth"],
                    )
    """

    def __init__(self, key_prefix: tuple[str, ...] = DEFAULT_KEY_PREFIX, group_name: str = DEFAULT_GROUP):
        self.key_prefix = tuple(key_prefix)
        self.group_name = group_name

    def get_asset_key(self, endpoint: EndpointSpec) -> dg.AssetKey:
        return endpoint.key or dg.AssetKey([*self.key_prefix, endpoint.name])

    def get_description(self, endpoint: EndpointSpec) -> str:
        parts = [endpoint.description or f"Rows of the PostHog endpoint `{endpoint.name}`."]
        if endpoint.hogql:
            parts.append(f"```sql\n{endpoint.hogql.strip()}\n```")
        return "\n\n".join(parts)

    def get_metadata(self, endpoint: EndpointSpec) -> dict[str, object]:
        metadata: dict[str, object] = {"posthog/endpoint": endpoint.name, "posthog/refresh": endpoint.refresh}
        if endpoint.version is not None:
            metadata["posthog/pinned_version"] = endpoint.version
        if endpoint.materialize:  # runs ensure PostHog materializes it (heavy endpoints)
            metadata["posthog/materialize"] = True
        if endpoint.variables:
            metadata["posthog/variables"] = dg.MetadataValue.json(_jsonable(endpoint.variables))
        if endpoint.saved_variables:
            metadata["posthog/saved_variables"] = dg.MetadataValue.json(_jsonable(endpoint.saved_variables))
        if endpoint.partition_variables:
            pv = endpoint.partition_variables
            metadata["posthog/partition_variables"] = dg.MetadataValue.json(
                {"start": pv.start, "end": pv.end, "key": pv.key, "date_format": pv.date_format}
            )
        if endpoint.source is not None:
            metadata["posthog/file"] = str(endpoint.source.path)
        metadata.update(endpoint.metadata)
        return metadata

    def get_asset_spec(self, endpoint: EndpointSpec) -> dg.AssetSpec:
        """The asset spec of one endpoint. Override to customise; call super() to start from ours.

        An endpoint built from a file has the file's code version (a digest of what it deploys),
        so Dagster shows the asset stale once the file changes, and the file's tags.
        """
        tags = {"posthog/endpoint": endpoint.name} if len(endpoint.name) <= MAX_TAG_VALUE_LENGTH else {}
        if endpoint.source is not None:
            tags.update(dict.fromkeys(endpoint.source.tags, ""))
        return dg.AssetSpec(
            key=self.get_asset_key(endpoint),
            description=self.get_description(endpoint),
            group_name=endpoint.group_name or self.group_name,
            kinds={"posthog"},
            metadata=self.get_metadata(endpoint),
            # Dagster caps tag values at 63 characters; endpoint names may have 128.
            tags=tags,
            code_version=endpoint.source.code_version if endpoint.source is not None else None,
        )


def _jsonable(values: object) -> object:
    """Metadata JSON must serialise; dates and other objects become their text."""
    return json.loads(json.dumps(values, default=str))
