"""Modules stay small enough to read on a few screens: no module of ``reportgen/`` has more than 450 lines."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 450
#: Modules known to be longer, relative to the repository root (none).
KNOWN_LONG: set[str] = set()


def long_modules(package: Path, limit: int = MAX_LINES) -> dict[str, int]:
    """``{path relative to package's parent: line count}`` of every ``.py`` file under ``package`` longer than
    ``limit`` lines."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            found[path.relative_to(package.parent).as_posix()] = lines
    return found


def test_no_module_of_the_package_is_longer_than_the_limit():
    too_long = {path: lines for path, lines in long_modules(ROOT / "reportgen").items() if path not in KNOWN_LONG}
    assert not too_long, f"modules over {MAX_LINES} lines; split them by what they hold: {too_long}"


def test_the_limit_counts_lines_of_every_module_under_the_package(tmp_path):
    package = tmp_path / "reportgen"
    (package / "sub").mkdir(parents=True)
    (package / "short.py").write_text("x = 1\n" * MAX_LINES)
    (package / "sub" / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (package / "notes.txt").write_text("x\n" * (MAX_LINES + 1))
    assert long_modules(package) == {"reportgen/sub/long.py": MAX_LINES + 1}


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_judgement_runs_one_way_the_pipeline_and_the_judgement_never_import_the_report():
    # The pipeline computes, the judgement decides from the document, the report renders the finished document.
    for package in ("pipeline", "judgement"):
        for path in sorted((ROOT / "reportgen" / package).rglob("*.py")):
            imported = {name for name in _imported_modules(path) if name.startswith("reportgen.report")}
            assert not imported, f"{path.relative_to(ROOT)} imports {sorted(imported)}"
    # ... and the judgement never reaches back into the pipeline.
    for path in sorted((ROOT / "reportgen" / "judgement").rglob("*.py")):
        imported = {name for name in _imported_modules(path) if name.startswith("reportgen.pipeline")}
        assert not imported, f"{path.relative_to(ROOT)} imports {sorted(imported)}"
