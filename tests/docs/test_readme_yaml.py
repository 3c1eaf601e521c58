"""Every YAML block of the README loads as component YAML against the local server (issue 14).

pytest-markdown-docs runs the Python blocks (`pytest --markdown-docs README.md`); YAML blocks are
read here with markdown-it, refreshed against the local server and built into definitions. The one
meant to sit beside a Python `definitions.py` is merged with such definitions: one `posthog`
resource and no duplicate asset keys after the state refresh.
"""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster.components.testing import create_defs_folder_sandbox
from markdown_it import MarkdownIt

from endpoints_dagster import PostHogEndpointsResource, build_endpoint_assets
from endpoints_dagster.components import EndpointSkippedWarning, PostHogEndpointsComponent

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[2] / "README.md"


def yaml_blocks() -> list[tuple[int, str]]:
    """(line, text) of each ```yaml fence of the README."""
    tokens = MarkdownIt().parse(README.read_text(encoding="utf-8"))
    return [
        (token.map[0] + 1, token.content)
        for token in tokens
        if token.type == "fence" and token.info.split()[:1] == ["yaml"] and token.map
    ]


def test_the_readme_has_component_yaml():
    assert len(yaml_blocks()) >= 2


@pytest.fixture
def posthog_env(local_server, monkeypatch) -> None:
    monkeypatch.setenv("POSTHOG_HOST", local_server.url)
    monkeypatch.setenv("POSTHOG_PROJECT_ID", str(local_server.project_id))
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", local_server.api_key)


def build(body: dict[str, Any]) -> tuple[PostHogEndpointsComponent, dg.Definitions]:
    """The component of one YAML body, its state refreshed from the server, then its definitions."""
    with create_defs_folder_sandbox() as sandbox:
        defs_path = sandbox.scaffold_component(PostHogEndpointsComponent, defs_yaml_contents=body)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EndpointSkippedWarning)  # "no state yet", expected
            with sandbox.load_component_and_build_defs(defs_path=defs_path) as (component, _):
                asyncio.run(component.refresh_state(sandbox.project_root))
        with sandbox.load_component_and_build_defs(defs_path=defs_path) as (component, defs):
            return component, defs


@pytest.mark.parametrize("line, text", yaml_blocks(), ids=[f"line-{line}" for line, _ in yaml_blocks()])
def test_each_yaml_block_loads_as_the_component(line, text, posthog_env, local_server):
    body = yaml.safe_load(text)
    assert body["type"] == "endpoints_dagster.PostHogEndpointsComponent", f"README line {line}"
    component, defs = build(body)
    keys = {spec.key.to_user_string() for assets_def in defs.assets or [] for spec in assets_def.specs}
    assert keys, f"README line {line}: no asset"
    if component.provide_resource:
        defs.resolve_all_job_defs()
        return
    # Beside a definitions.py that defines `posthog` and the endpoints the YAML excludes.
    excluded = body["attributes"]["selection"]["exclude"]
    python_defs = dg.Definitions(
        assets=build_endpoint_assets(excluded),
        resources={
            "posthog": PostHogEndpointsResource(
                host=local_server.url,
                project_id=local_server.project_id,
                personal_api_key=local_server.api_key,
            )
        },
    )
    merged = dg.Definitions.merge(python_defs, defs)
    graph = merged.resolve_asset_graph()  # refuses duplicate keys and resources
    merged.resolve_all_job_defs()
    assert {f"posthog/{name}" for name in excluded} <= {
        k.to_user_string() for k in graph.get_all_asset_keys()
    }
    assert keys.isdisjoint({f"posthog/{name}" for name in excluded})
