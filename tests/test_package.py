"""The installed package and its metadata agree."""

import tomllib
from importlib.metadata import version
from pathlib import Path

import endpoints_dagster


def test_version_matches_pyproject():
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert endpoints_dagster.__version__ == pyproject["project"]["version"]
    assert version("endpoints-dagster") == pyproject["project"]["version"]
