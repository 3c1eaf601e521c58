"""pyarrow and polars are optional: asking for their frames without them names the extra to install."""

from __future__ import annotations

import sys

import pytest

from endpoints_dagster.client.models import RunResult
from endpoints_dagster.frames.extras import MissingExtraError

RESULT = {"columns": ["n"], "types": [["n", "UInt8"]], "results": [[1]]}


@pytest.fixture
def without(monkeypatch):
    """Make ``import <name>`` fail as it does when the package is not installed."""

    def hide(*names: str) -> None:
        for name in names:
            for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                monkeypatch.delitem(sys.modules, loaded)
            monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: ImportError on import

    return hide


def test_polars_frames_without_polars_say_to_install_the_polars_extra(without):
    without("polars")
    with pytest.raises(MissingExtraError, match=r'pip install "endpoints-dagster\[polars\]"'):
        RunResult.from_api(RESULT).to_polars()


def test_arrow_tables_without_pyarrow_say_to_install_the_arrow_extra(without):
    without("pyarrow")
    with pytest.raises(MissingExtraError, match=r'pip install "endpoints-dagster\[arrow\]"'):
        RunResult.from_api(RESULT).to_arrow()


def test_polars_frames_without_pyarrow_say_to_install_the_polars_extra(without):
    without("pyarrow")
    with pytest.raises(MissingExtraError, match=r'pip install "endpoints-dagster\[polars\]"'):
        RunResult.from_api(RESULT).to_polars()


def test_the_error_is_an_import_error_and_pandas_still_works(without):
    without("pyarrow", "polars")
    result = RunResult.from_api(RESULT)
    with pytest.raises(ImportError):
        result.to_arrow()
    assert result.to_pandas()["n"].tolist() == [1]
