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
