"""Endpoints as code: a folder of HogQL files, planned, applied and exported like infrastructure.

- :func:`load_endpoint_files` reads and checks a folder (``files``);
- :func:`build_plan` compares it with a project (``plan``), :func:`apply_plan` carries it out
  (``apply``), recording deploys in the folder's lock file (``lock``);
- :func:`export_endpoints` writes a project's endpoints as files (``export``);
- :func:`check_endpoint_files` runs every query with its default variables (``check``);
- ``python -m endpoints_dagster plan|apply|export DIR`` is the command line (``cli``).

Example::

    from endpoints_dagster import EndpointsClient
    from endpoints_dagster.as_code import Lock, apply_plan, build_plan, load_endpoint_files

    files = load_endpoint_files("endpoints/")
    with EndpointsClient(host, project_id, key) as client:
        lock = Lock.for_folder("endpoints/")
        print(build_plan(files, client, lock).render())
"""

from .apply import ApplyResult, DriftError, apply_plan
from .check import CheckResult, EndpointCheckError, check_endpoint_files
from .export import ExportResult, export_endpoints, render_endpoint_file
from .files import (
    EndpointFile,
    EndpointFileError,
    EndpointFilesError,
    Expectations,
    Variable,
    load_endpoint_files,
    parse_endpoint_file,
)
from .lock import Deployed, Lock, project_key
from .plan import EndpointChange, Plan, build_plan

__all__ = [
    "ApplyResult",
    "CheckResult",
    "Deployed",
    "DriftError",
    "EndpointChange",
    "EndpointCheckError",
    "EndpointFile",
    "EndpointFileError",
    "EndpointFilesError",
    "Expectations",
    "ExportResult",
    "Lock",
    "Plan",
    "Variable",
    "apply_plan",
    "build_plan",
    "check_endpoint_files",
    "export_endpoints",
    "load_endpoint_files",
    "parse_endpoint_file",
    "project_key",
    "render_endpoint_file",
]
