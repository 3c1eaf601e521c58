"""`python -m bench [NAME ...]`: run the benchmark modules, print the table, update RESULTS.md."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import pkgutil
import re
import subprocess
import sys
import tempfile
import traceback
from dataclasses import asdict
from pathlib import Path

from bench.common import BenchRow, fmt, machine

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "RESULTS.md"


def discover() -> list[str]:
    """Short names (``frames`` for ``bench_frames``) of every benchmark module, sorted."""
    return sorted(
        m.name[len("bench_") :] for m in pkgutil.iter_modules([str(BENCH_DIR)]) if m.name.startswith("bench_")
    )


def title(name: str) -> str:
    source = (BENCH_DIR / f"bench_{name}.py").read_text(encoding="utf-8")
    match = re.match(r'\s*(?:#.*\n\s*)*[rRuU]?"""\s*(.+)', source)
    return match.group(1).strip().rstrip(".") if match else name


def run_child(name: str, out: str) -> int:
    """Inside the child process: run one module, write its rows as JSON to ``out``."""
    try:
        rows = importlib.import_module(f"bench.bench_{name}").run()
        payload = [asdict(r) for r in rows]
        code = 0
    except BaseException as exc:  # report, never hide: the parent turns it into an error row
        traceback.print_exc()
        payload = [
            asdict(
                BenchRow(
                    f"{name}: error", float("nan"), "", None, "runs", False, f"{type(exc).__name__}: {exc}"
                )
            )
        ]
        code = 1
    Path(out).write_text(json.dumps(payload), encoding="utf-8")
    return code


def run_module(name: str, timeout: float) -> tuple[list[BenchRow], bool]:
    """Run one module in a fresh interpreter; return its rows and whether it ran cleanly."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        cmd = [sys.executable, "-m", "bench", "--child", name, "--child-out", str(out)]
        try:
            proc = subprocess.run(cmd, cwd=ROOT, timeout=timeout, check=False)
            ok = proc.returncode == 0
        except subprocess.TimeoutExpired:
            return [
                BenchRow(f"{name}: timed out", float("nan"), "", None, f"finishes in {timeout:.0f} s", False)
            ], False
        if not out.exists():
            return [
                BenchRow(
                    f"{name}: crashed", float("nan"), "", None, "runs", False, f"exit code {proc.returncode}"
                )
            ], False
        return [BenchRow(**r) for r in json.loads(out.read_text(encoding="utf-8"))], ok


def table(rows: list[BenchRow]) -> str:
    lines = [
        "| benchmark | value | baseline (same run) | target | met | notes |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        met = "n/a" if r.met is None else ("yes" if r.met else "**NO**")
        value = f"{fmt(r.value)} {r.unit}".strip()
        baseline = "-" if r.baseline is None else f"{fmt(r.baseline)} {r.unit}".strip()
        cells = [r.name, value, baseline, r.target, met, r.notes]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines)


def header(info: dict, when: str) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    return (
        f"- Date: {when}\n- Machine: {info['platform']}, {info['processor']}, {info['cores']} cores "
        f"({info['usable_cores']} usable), {info['memory']} memory\n- Python {info['python']}; {versions}"
    )


def section(name: str, rows: list[BenchRow], info: dict, when: str) -> str:
    heading = f"## {title(name)} (`bench_{name}`)"
    return (
        f"<!-- bench:{name} -->\n{heading}\n\n{header(info, when)}\n\n{table(rows)}\n<!-- /bench:{name} -->"
    )


def write_results(sections: dict[str, str], info: dict, when: str) -> None:
    """Replace the sections that ran; keep the others from the previous RESULTS.md."""
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    pattern = r"(?s)<!-- bench:(\w+) -->.*?<!-- /bench:\1 -->"
    kept = {m.group(1): m.group(0) for m in re.finditer(pattern, old)}
    kept.update(sections)
    body = "\n\n".join(kept[name] for name in sorted(kept))
    RESULTS.write_text(
        "# Benchmark results\n\nWritten by `python -m bench` (`make bench`). Each section says when and where it "
        f"was measured; the last run was on {when}.\n\n{body}\n",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="modules to run: 'frames' or 'bench_frames' (default: all)")
    parser.add_argument(
        "--no-write", action="store_true", help="print the table but leave bench/RESULTS.md alone"
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per module (default 600)")
    parser.add_argument("--list", action="store_true", help="list the modules and exit")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args.child, args.child_out)
    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    names = [n.removeprefix("bench_").removesuffix(".py") for n in args.names] or available
    unknown = [n for n in names if n not in available]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}")
    info, clean, sections, printed = machine(), True, {}, []
    for name in names:
        print(f"== bench_{name} ...", file=sys.stderr, flush=True)
        rows, ok = run_module(name, args.timeout)
        clean &= ok
        when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        sections[name] = section(name, rows, info, when)
        printed.append(f"## {title(name)}\n\n{table(rows)}")
    print("\n\n".join(printed))
    if not args.no_write:
        write_results(sections, info, dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
        print(f"\nwrote {RESULTS.relative_to(ROOT)}", file=sys.stderr)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
