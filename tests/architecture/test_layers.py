"""The folders are the architecture: the import rules between them hold, and no import cycles exist.

Every import counts: module level, inside functions, and under ``TYPE_CHECKING`` (a cycle there still
means a type lives in the wrong module).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "endpoints_dagster"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _imports(module: str) -> Iterator[str]:
    """Every module of the package that ``module`` imports, by absolute name."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in MODULES:  # `import a.b.c` of a package module, or a name in it
                name = name.rpartition(".")[0]
            if name and name.startswith(PACKAGE) and name != module:
                yield name


GRAPH = {module: sorted(set(_imports(module))) for module in MODULES}


def _in(module: str, layer: str) -> bool:
    return module == f"{PACKAGE}.{layer}" or module.startswith(f"{PACKAGE}.{layer}.")


def test_there_are_no_import_cycles() -> None:
    # Tarjan's strongly connected components; any component with two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in GRAPH:
        if module not in index:
            visit(module)
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(cycle) for cycle in cycles)


@pytest.mark.parametrize("layer", ["client", "frames", "local"])
def test_plain_python_layers_import_no_dagster(layer: str) -> None:
    offenders = []
    for module, path in MODULES.items():
        if not _in(module, layer):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            offenders += [
                f"{module} imports {name}" for name in names if name.split(".")[0].startswith("dagster")
            ]
    assert offenders == []


def test_client_and_frames_import_nothing_above_them() -> None:
    allowed = ("client", "frames", "_version")
    offenders = [
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if _in(module, "client") or _in(module, "frames")
        for target in targets
        if not any(_in(target, layer) for layer in allowed)
    ]
    assert offenders == []


def test_frames_do_not_import_the_client() -> None:
    offenders = [f"{m} -> {t}" for m, ts in GRAPH.items() if _in(m, "frames") for t in ts if _in(t, "client")]
    assert offenders == []


def test_the_local_server_and_the_package_do_not_import_each_other() -> None:
    into_local = [
        f"{m} -> {t}" for m, ts in GRAPH.items() if not _in(m, "local") for t in ts if _in(t, "local")
    ]
    out_of_local = [
        f"{m} -> {t}" for m, ts in GRAPH.items() if _in(m, "local") for t in ts if not _in(t, "local")
    ]
    assert into_local == [] and out_of_local == []


def test_loading_specs_from_saved_state_does_not_import_the_component() -> None:
    reached: set[str] = set()
    todo = [f"{PACKAGE}.discovery.load"]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo += GRAPH[module]
    assert not any(_in(module, "components") for module in reached), sorted(reached)
