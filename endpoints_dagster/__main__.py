"""``python -m endpoints_dagster plan|apply|export DIR``: see :mod:`endpoints_dagster.as_code.cli`."""

from endpoints_dagster.as_code.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
