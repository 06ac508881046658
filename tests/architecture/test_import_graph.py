"""The package's import graph: no cycles, and no function-level import of the package's own
modules (the usual way a cycle hides). The layers themselves are import-linter contracts
(``[tool.importlinter]`` in pyproject.toml), checked by ``make lint`` before ``make test``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

import flask_xerosync

PACKAGE_DIR = Path(flask_xerosync.__file__).parent


def strongly_connected(graph: grimp.ImportGraph) -> list[set[str]]:
    """Tarjan's algorithm over the modules of ``graph``: every group of modules that import each
    other, directly or not (groups of one module are left out)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(group)

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return groups


def test_no_module_of_the_package_is_in_an_import_cycle() -> None:
    graph = grimp.build_graph("flask_xerosync")
    assert strongly_connected(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    graph.add_import(importer="c", imported="a")
    assert strongly_connected(graph) == [{"a", "b", "c"}]


def function_level_imports(source: str) -> list[str]:
    """The package-relative or ``flask_xerosync`` imports made inside a function body."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and (inner.level or (inner.module or "").startswith("flask_xerosync")):
                found.append(f"line {inner.lineno}: from {'.' * inner.level}{inner.module or ''} import ...")
            elif isinstance(inner, ast.Import) and any(a.name.startswith("flask_xerosync") for a in inner.names):
                found.append(f"line {inner.lineno}: import {', '.join(a.name for a in inner.names)}")
    return found


def test_no_function_imports_a_module_of_the_package() -> None:
    offenders = {
        str(path.relative_to(PACKAGE_DIR)): imports
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
        if "sandbox" not in path.parts and (imports := function_level_imports(path.read_text()))
    }
    assert offenders == {}


def test_importing_the_engine_loads_no_web_framework_queue_or_http() -> None:
    """The contracts check the imports written down; this checks what importing really loads."""
    probe = (
        "import sys, flask_xerosync.sync.engine, flask_xerosync.sync.ports\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'flask_sqlalchemy', 'flask_wtf', "
        "'flask_login', 'rq', 'redis', 'requests', 'authlib'}))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
