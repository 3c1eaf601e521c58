"""Entry point: ``python -m endpoints_dagster.local serve ...`` and the ``endpoints-local-server`` script."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the local server's command line; returns the exit status."""
    from endpoints_dagster.local.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
