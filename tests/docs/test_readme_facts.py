"""What the README's "Use it in your project" says about the local server is what it serves."""

from __future__ import annotations

import re
from pathlib import Path

from endpoints_dagster.local.cli import build_parser
from endpoints_dagster.local.demo import DEMO_ENDPOINTS
from endpoints_dagster.local.process import DEFAULT_API_KEY

README = Path(__file__).resolve().parents[2] / "README.md"


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Use it in your project")
    return text[start : text.index("\n## ", start + 1)]


def test_the_demo_credentials_are_the_servers():
    text = section()
    assert f"`{DEFAULT_API_KEY}`" in text and "project `1`" in text
    args = build_parser().parse_args(["serve", "--demo"])  # the README's command, as it parses
    assert f"http://{args.host}:{args.port}" in text and args.project_id == 1


def test_the_listed_endpoints_and_variables_are_the_demo_ones():
    listed = dict(re.findall(r"^- `(\w+)`(?: \(([^)]*)\))?:", section(), flags=re.MULTILINE))
    served = {
        e["name"]: sorted(v["code_name"] for v in e["query"]["variables"].values()) for e in DEMO_ENDPOINTS
    }
    assert set(listed) == set(served)
    for name, variables in listed.items():
        assert sorted(re.findall(r"`(\w+)`", variables)) == served[name], name
