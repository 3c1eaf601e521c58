"""Show that `make e2e` catches a broken project: run it on a copy of the demo that lacks an
asset, the materialization metadata and the sensor, and require exactly those checks to fail.

The copy lives in `.e2e/broken/project/` (workspace.yaml, definitions.py, demo_defs/,
demo_endpoints/ and the `dg` settings of pyproject.toml); the repository's own files are never
touched. Exits 0 when the e2e run failed as it should, 1 otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".e2e" / "broken"
#: What every line of output starts with (`make e2e` runs this beside `scripts/e2e.py`).
LABEL = "e2e-broken"

#: (what is broken, text in definitions.py, its replacement)
BREAKAGES = [
    (
        "the asset feature_usage_by_plan is gone",
        "        EndpointSpec(\n"
        '            "feature_usage_by_plan",\n'
        "            version=1,\n"
        '            frame_type="polars",\n'
        '            metadata={"dagster/io_manager_key": "polars_io_manager"},\n'
        "        ),\n",
        "",
    ),
    (
        "the sensor revenue_by_country_executed is gone",
        "    sensors=[revenue_executed_sensor],\n",
        "    sensors=[],\n",
    ),
    # Materializations keep only one metadata entry: no row count, column schema or preview.
    (
        "materializations carry no row count, schema or preview",
        "daily = dg.DailyPartitionsDefinition(",
        (
            "import endpoints_dagster.assets.factory as _assets\n"
            "_assets.materialization_metadata = lambda **kw: {'posthog/endpoint': kw['endpoint']}\n\n"
            "daily = dg.DailyPartitionsDefinition("
        ),
    ),
]
#: check name -> a word its failure message must contain
EXPECTED_FAILURES = {
    "asset graph": "feature_usage_by_plan",
    "materialization": "dagster/column_schema",  # (the DuckDB IO manager still adds a row count)
    "sensor": "revenue_by_country_executed",
}


def say(*lines: str) -> None:
    for line in lines:
        print(f"[{LABEL}] {line}", flush=True)


def build_project(target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in ("workspace.yaml", "pyproject.toml"):
        shutil.copyfile(ROOT / name, target / name)
    shutil.copytree(
        ROOT / "demo_defs",
        target / "demo_defs",
        ignore=shutil.ignore_patterns(".local_defs_state", "__pycache__"),
    )
    shutil.copytree(ROOT / "demo_endpoints", target / "demo_endpoints")  # endpoint files of definitions.py
    text = (ROOT / "definitions.py").read_text()
    for what, old, new in BREAKAGES:
        if old not in text:
            raise SystemExit(
                f"cannot break the copy ({what}): definitions.py no longer contains {old.strip()!r}"
            )
        text = text.replace(old, new, 1)
    (target / "definitions.py").write_text(text)


def main() -> int:
    project = STATE / "project"
    build_project(project)
    report = STATE / "report.json"
    report.unlink(missing_ok=True)  # a report left by an earlier run must not stand for this one
    say("broken copy of the demo:", *(f"  - {what}" for what, _, _ in BREAKAGES))
    code = subprocess.call(
        [
            sys.executable,
            str(ROOT / "scripts" / "e2e.py"),
            "--project",
            str(project),
            "--state",
            str(STATE),
            "--label",
            LABEL,
        ]
    )
    if code != 1 or not report.exists():
        say(f"expected the e2e checks to fail (exit 1), got exit {code}")
        return 1
    failures = json.loads(report.read_text())["failures"]
    problems = [f"{name} did not fail" for name in EXPECTED_FAILURES if name not in failures]
    problems += [
        f"{name} failed for another reason: {failures[name]}"
        for name, word in EXPECTED_FAILURES.items()
        if name in failures and word not in failures[name]
    ]
    problems += [
        f"{name} failed although nothing it checks was broken: {failures[name]}"
        for name in failures
        if name not in EXPECTED_FAILURES
    ]
    if problems:
        say("the checks did not catch the broken project as expected:", *(f"  {p}" for p in problems))
        return 1
    say(f"the e2e checks caught every breakage: {', '.join(sorted(failures))} failed, the others passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
