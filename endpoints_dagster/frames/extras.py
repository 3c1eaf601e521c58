"""Optional frame libraries (pyarrow, polars): imported on first use, with the extra to install.

>>> require("json", "arrow").__name__
'json'
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["FRAME_TYPES", "MissingExtraError", "check_frame_type", "require"]

#: What an endpoint asset may return: pandas (default), polars or arrow.
FRAME_TYPES = ("pandas", "polars", "arrow")
#: The module each frame type needs, and the package extra that installs it.
_EXTRAS = {"pyarrow": "arrow", "polars": "polars"}


class MissingExtraError(ImportError):
    """A frame type was asked for whose library is not installed; the message names the extra."""


def require(module: str, extra: str | None = None) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` saying which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = extra or _EXTRAS.get(module, module)
        raise MissingExtraError(
            f"{module} is not installed, and it is needed for {extra} frames: "
            f'pip install "endpoints-dagster[{extra}]"'
        ) from exc


def check_frame_type(frame_type: str, where: str = "frame_type") -> str:
    """``frame_type`` if it is one of :data:`FRAME_TYPES`, else a ``ValueError`` naming ``where``."""
    if frame_type not in FRAME_TYPES:
        raise ValueError(f"{where} must be one of {', '.join(FRAME_TYPES)}, got {frame_type!r}")
    return frame_type
