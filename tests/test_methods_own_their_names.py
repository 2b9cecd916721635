"""Methods own what is specific to them: no code outside ``reportgen/explain/`` names a registered method.

A method's registry name, its title and its stability variants' names and titles are stated once, on the method's
class and its ``register(...)`` call; everything else reads them from the registry.  The test reads every string
literal of ``reportgen/**/*.py`` outside ``reportgen/explain/`` (docstrings, which may give an example, excepted)
and every line of ``templates/``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from reportgen.explain import get_explainer, list_explainers, list_stability_variants

ROOT = Path(__file__).resolve().parents[1]
#: (file, literal) pairs that name a library, not a method: the lime distribution shares its method's name, and the
#: lists of library versions (provenance, cache keys) name the distribution.
LIBRARY_NAMES = {("reportgen/cache.py", "lime"), ("reportgen/runtime.py", "lime")}


def method_words() -> set[str]:
    """Every registered method's name and title, and its stability variants' names and titles."""
    words = set()
    for name in list_explainers():
        words |= {name, get_explainer(name).title}
    for variant in list_stability_variants():
        words |= {variant.name, variant.title}
    return words


def _pattern(words: set[str]) -> re.Pattern:
    # A word counts where it stands alone: "grad_cam" is not found in "grad_cam_pp" nor "lime" in "sublime".
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9_])(?:{alternatives})(?![A-Za-z0-9_])")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def named_methods(root: Path, words: set[str], allowed=frozenset()) -> list[str]:
    """``path:line: 'word'`` for each of ``words`` in a string literal of ``root/reportgen`` outside its ``explain``
    package (docstrings excepted) or in a line of ``root/templates``; ``allowed`` holds (path, literal) pairs."""
    pattern, found = _pattern(words), []
    explain = root / "reportgen" / "explain"
    for path in sorted((root / "reportgen").rglob("*.py")):
        if explain in path.parents:
            continue
        relative = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and (relative, node.value) not in allowed):
                found += [f"{relative}:{node.lineno}: {word!r}" for word in pattern.findall(node.value)]
    for path in sorted(path for path in (root / "templates").rglob("*") if path.is_file()):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            found += [f"{path.relative_to(root).as_posix()}:{number}: {word!r}" for word in pattern.findall(line)]
    return sorted(found)


def test_no_code_outside_the_methods_names_a_method():
    found = named_methods(ROOT, method_words(), LIBRARY_NAMES)
    assert not found, ("read these from the registry (reportgen.explain) instead of naming a method: "
                       + "; ".join(found))


def test_the_words_cover_every_method_and_variant():
    words = method_words()
    assert {"integrated_gradients", "grad_cam", "lime", "grad_cam_pp", "Grad-CAM", "LIME"} <= words
    assert {"lime_seeds", "ig_baselines", "grad_cam_layers", "Grad-CAM per layer"} <= words


def test_the_scan_finds_names_in_code_and_templates_but_not_in_docstrings(tmp_path):
    (tmp_path / "reportgen" / "explain").mkdir(parents=True)
    (tmp_path / "templates").mkdir()
    (tmp_path / "reportgen" / "explain" / "toy.py").write_text('NAME = "grad_cam"\n')
    (tmp_path / "reportgen" / "step.py").write_text(
        '"""Reads grad_cam\'s maps, for example."""\n\n'
        'def run():\n    """Like lime."""\n    return {"grad_cam_pp": f"{1} lime_seeds", "sublime": "lime"}\n')
    (tmp_path / "templates" / "part.html.j2").write_text("<p>ok</p>\n<p>Grad-CAM per layer</p>\n")
    words = {"grad_cam", "grad_cam_pp", "lime", "lime_seeds", "Grad-CAM", "Grad-CAM per layer"}
    assert named_methods(tmp_path, words) == ["reportgen/step.py:5: 'grad_cam_pp'", "reportgen/step.py:5: 'lime'",
                                              "reportgen/step.py:5: 'lime_seeds'", "templates/part.html.j2:2: 'Grad-CAM per layer'"]
    assert named_methods(tmp_path, words, {("reportgen/step.py", "lime")}) == [
        "reportgen/step.py:5: 'grad_cam_pp'", "reportgen/step.py:5: 'lime_seeds'",
        "templates/part.html.j2:2: 'Grad-CAM per layer'"]
