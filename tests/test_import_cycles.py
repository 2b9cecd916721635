"""No cycle among the module-level imports of reportgen's modules.

A cycle makes the import order matter (whichever module is imported first sees the other half
initialised) and is read from the source with ``ast``, so it fails here before it fails at import.
Imports inside functions and under ``if TYPE_CHECKING:`` are not run at import time and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import reportgen

PACKAGE = Path(reportgen.__file__).parent


def module_files(root: Path = PACKAGE) -> dict[str, Path]:
    """``{"reportgen.pipeline.chunks": path, "reportgen.pipeline": path/__init__.py, ...}``."""
    files = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def _top_level_imports(body: list[ast.stmt]):
    """The import statements run when the module is imported: its body, and inside if/try blocks there."""
    for statement in body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            yield statement
        elif isinstance(statement, ast.If):
            if not (isinstance(statement.test, ast.Name) and statement.test.id == "TYPE_CHECKING"):
                yield from _top_level_imports(statement.body)
                yield from _top_level_imports(statement.orelse)
        elif isinstance(statement, ast.Try):
            for block in (statement.body, *(h.body for h in statement.handlers), statement.orelse,
                          statement.finalbody):
                yield from _top_level_imports(block)


def module_imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The reportgen modules that module ``name`` imports at module level.

    ``from reportgen.x import y`` counts as importing ``reportgen.x.y`` when that is a module, else ``reportgen.x``.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for statement in _top_level_imports(ast.parse(path.read_text(), filename=str(path)).body):
        if isinstance(statement, ast.Import):
            found.update(alias.name for alias in statement.names)
            continue
        base = statement.module or ""
        if statement.level:
            parent = package.split(".")[: len(package.split(".")) - statement.level + 1]
            base = ".".join(parent + ([statement.module] if statement.module else []))
        for alias in statement.names:
            full = f"{base}.{alias.name}"
            found.add(full if full in modules else base)
    return {module for module in found if module in modules and module != name}


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_files(root)
    return {name: module_imports(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or ``None`` (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for successor in sorted(graph.get(node, ())):
            if state.get(successor) == 1:
                return path[path.index(successor):] + [successor]
            if successor not in state and (cycle := visit(successor)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_a_known_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_module_imports_reads_relative_type_checking_and_function_imports(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from . import b\n")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\nimport pkg.c\nfrom pkg.sub import b\n"
        "if TYPE_CHECKING:\n    from pkg import d\n"
        "try:\n    from .sub import e\nexcept ImportError:\n    e = None\n"
        "def f():\n    from pkg import d\n")
    for name in ("b", "e"):
        (package / "sub" / f"{name}.py").write_text("")
    for name in ("c", "d"):
        (package / f"{name}.py").write_text("")
    graph = import_graph(package)
    assert graph["pkg.a"] == {"pkg.c", "pkg.sub.b", "pkg.sub.e"}
    assert graph["pkg.sub"] == {"pkg.sub.b"}


def test_reportgen_has_no_import_cycle():
    graph = import_graph()
    assert "reportgen.config" in graph and "reportgen.pipeline.chunks" in graph
    # The edges that used to close a cycle through the configuration run the other way now.
    assert {"reportgen.inference", "reportgen.model.recipes", "reportgen.explain"} <= graph["reportgen.config"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
