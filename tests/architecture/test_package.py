"""The installed package and its metadata agree."""

from importlib.metadata import version
from pathlib import Path

import tomllib

import endpoints_dagster


def test_version_matches_pyproject():
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert endpoints_dagster.__version__ == pyproject["project"]["version"]
    assert version("endpoints-dagster") == pyproject["project"]["version"]


def test_every_public_name_resolves():
    for name in endpoints_dagster.__all__:
        assert getattr(endpoints_dagster, name) is not None, name


def test_the_local_server_and_the_client_do_not_import_dagster():
    import subprocess
    import sys

    code = (
        "import sys, endpoints_dagster.local.server.app, endpoints_dagster.client.client; "
        "print('dagster' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_save_endpoint_state_is_public():
    from endpoints_dagster.discovery.load import save_endpoint_state

    assert "save_endpoint_state" in endpoints_dagster.__all__
    assert endpoints_dagster.save_endpoint_state is save_endpoint_state


def test_the_package_ships_py_typed():
    """PEP 561: the marker exists and setuptools is told to put it in the wheel."""
    from setuptools.config.pyprojecttoml import read_configuration

    root = Path(__file__).resolve().parents[2]
    assert (root / "endpoints_dagster" / "py.typed").is_file()
    package_data = read_configuration(root / "pyproject.toml")["tool"]["setuptools"]["package-data"]
    assert "py.typed" in package_data["endpoints_dagster"]


def test_resource_takes_project_id_as_int_or_text():
    from endpoints_dagster import PostHogEndpointsResource

    for given in (1, "1"):
        resource = PostHogEndpointsResource(
            host="http://127.0.0.1:1", project_id=given, personal_api_key="phx_x"
        )
        with resource.get_client() as client:
            assert client.project_id == 1
