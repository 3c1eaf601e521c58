"""`dg scaffold defs endpoints_dagster.PostHogEndpointsComponent posthog`: a commented defs.yaml.

Options (all optional): `--host https://eu.posthog.com` and `--project-id 12345` write the
values themselves; otherwise the file reads them from `POSTHOG_HOST` / `POSTHOG_PROJECT_ID`.
`--api-key-env NAME` names the variable holding the key (the key itself is never written).
"""

from __future__ import annotations

import re
from typing import Optional

from dagster.components import Scaffolder, ScaffoldRequest, scaffold_component
from pydantic import BaseModel, Field

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

DEFS_YAML_TEMPLATE = """\
type: {type_name}

attributes:
  # How to reach PostHog. `dg utils refresh-defs-state` reads the endpoint list once with it;
  # loading definitions never calls PostHog. A variable that is not set is an error naming it.
  connection:
    host: {host}
    project_id: {project_id}
    personal_api_key: "{{{{ env.{api_key_env} }}}}"

  # Beside your own `posthog` resource (a definitions.py with build_endpoint_assets), share it
  # instead of defining a second one with the same key, which Dagster refuses:
  # provide_resource: false
  # resource_key: posthog      # the key of the PostHogEndpointsResource the assets use

  # Which endpoints become assets: names or globs. Inactive endpoints are left out unless
  # include_inactive is true. Exclude the endpoints your Python code already makes assets of,
  # or their asset keys clash.
  selection:
    include: ["*"]
    exclude: []
    # include_inactive: false

  # Settings for every endpoint asset.
  defaults:
    refresh: force_async      # blocking | async | lazy_async | force_blocking | force_async | force_cache
                              # (PostHog today: cache | force | direct; the others are mapped onto them)
    group: posthog
    key_prefix: [posthog]
    max_concurrency: 8
    # pool: posthog_api       # a Dagster concurrency pool shared across runs
    # schema_checks: true     # a schema_unchanged check (WARN) per asset

  # Per-endpoint changes (by name or glob). Variables can take the run's partition:
  # {{{{ partition.start }}}} / {{{{ partition.end }}}} (time windows) or {{{{ partition.key }}}}.
  endpoints: {{}}
  #  daily_signups:
  #    partitions: {{type: daily, start_date: "2026-01-01"}}
  #    variables:
  #      since: "{{{{ partition.start }}}}"
  #      until: "{{{{ partition.end }}}}"
  #    backfill: multi_run       # one run per partition; single_run (default) needs an IO manager
  #                              # that stores a range, such as DuckDB
  #  revenue_by_country:
  #    partitions: {{type: static, keys: [free, pro, enterprise]}}
  #    variables: {{plan: "{{{{ partition.key }}}}"}}
  #    version: 2               # pin a version
  #    key: analytics/revenue   # asset key
  #    group: finance

  # Change any asset attribute for every endpoint; `endpoint` is the saved endpoint
  # (name, description, hogql, current_version, variables).
  # translation:
  #   owners: ["team:growth"]
  #   tags: {{source: posthog}}

  # Launch a run of an endpoint's asset when the endpoint is executed in PostHog.
  # sensor:
  #   minimum_interval_seconds: 300
  #   endpoints: ["top_*"]      # names or globs among the assets above (default: all unpartitioned)
  #   default_status: running   # stopped by default
"""


class PostHogEndpointsScaffoldParams(BaseModel):
    """Parameters of `dg scaffold defs endpoints_dagster.PostHogEndpointsComponent`."""

    host: Optional[str] = Field(default=None, description="PostHog URL; default: the POSTHOG_HOST variable.")
    project_id: Optional[str] = Field(
        default=None, description="Project id; default: the POSTHOG_PROJECT_ID variable."
    )
    api_key_env: str = Field(
        default="POSTHOG_PERSONAL_API_KEY",
        description="Name of the environment variable holding the personal API key.",
    )


class PostHogEndpointsScaffolder(Scaffolder[PostHogEndpointsScaffoldParams]):
    """Writes a defs.yaml that documents every block of the component."""

    @classmethod
    def get_scaffold_params(cls) -> type[PostHogEndpointsScaffoldParams]:
        return PostHogEndpointsScaffoldParams

    def scaffold(self, request: ScaffoldRequest[PostHogEndpointsScaffoldParams]) -> None:
        params = request.params or PostHogEndpointsScaffoldParams()
        if not _ENV_NAME.match(params.api_key_env):
            raise ValueError(f"--api-key-env {params.api_key_env!r} is not an environment variable name")
        host = _yaml_str(params.host) if params.host else '"{{ env.POSTHOG_HOST }}"'
        project_id = _yaml_str(params.project_id) if params.project_id else '"{{ env.POSTHOG_PROJECT_ID }}"'
        if request.scaffold_format != "yaml" or request.append:
            # Python scaffolds and appends to a multi-document file use Dagster's plain writer.
            scaffold_component(
                request,
                {
                    "connection": {
                        "host": params.host or "{{ env.POSTHOG_HOST }}",
                        "project_id": params.project_id or "{{ env.POSTHOG_PROJECT_ID }}",
                        "personal_api_key": f"{{{{ env.{params.api_key_env} }}}}",
                    }
                },
            )
            return
        request.target_path.mkdir(parents=True, exist_ok=True)
        (request.target_path / "defs.yaml").write_text(
            DEFS_YAML_TEMPLATE.format(
                type_name=request.type_name, host=host, project_id=project_id, api_key_env=params.api_key_env
            ),
            encoding="utf-8",
        )


def _yaml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
