"""The documents: a short README, links that resolve, and citations in the code that point at real sections."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCUMENTS = [README, ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Folders whose files may cite a document of docs/ by path and heading anchor.
CITING = ("reportgen", "templates", "tests", "benchmarks", "examples")
CITING_SUFFIXES = {".py", ".j2", ".css", ".sh", ".toml", ".sbatch", ".yml", ".yaml"}

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
CITATION = re.compile(r"\bdocs/([\w-]+\.md)(?:#([\w-]+))?")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(document: Path) -> set[str]:
    """Every heading anchor of a Markdown file (a repeated heading gets -1, -2, ... as on GitHub)."""
    found, seen = set(), {}
    for line in FENCE.sub("", document.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(document: Path) -> list[str]:
    """Relative link targets of a Markdown file, outside code blocks."""
    text = FENCE.sub("", document.read_text(encoding="utf-8"))
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


def test_slug_follows_github():
    assert slug("The notebook's deletion number") == "the-notebooks-deletion-number"
    assert slug("attributions.h5") == "attributionsh5"
    assert slug("Grad-CAM on 96 px patches") == "grad-cam-on-96-px-patches"


def test_the_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move detail into docs/ (at most 250)"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(document):
    problems = []
    for target in links(document):
        path, _, anchor = target.partition("#")
        resolved = (document.parent / path).resolve() if path else document
        if not resolved.exists():
            problems.append(f"{target}: no file {resolved.relative_to(ROOT) if ROOT in resolved.parents else resolved}")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading with anchor #{anchor}")
    assert not problems, f"{document.relative_to(ROOT)}: " + "; ".join(problems)


def test_the_link_check_can_fail(tmp_path):
    document = tmp_path / "a.md"
    document.write_text("# Title\n\n[gone](missing.md) [here](#title) [web](https://example.org)\n"
                        "```\n[in code](ignored.md)\n```\n")
    assert links(document) == ["missing.md", "#title"]
    assert anchors(document) == {"title"}


def _citing_files():
    for folder in CITING:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in CITING_SUFFIXES and "sample-report" not in path.parts and path.is_file():
                yield path


def test_every_citation_in_the_code_names_a_real_section():
    problems, cited = [], 0
    for path in _citing_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for name, anchor in CITATION.findall(text):
            cited += 1
            document = ROOT / "docs" / name
            if not document.exists():
                problems.append(f"{path.relative_to(ROOT)}: docs/{name} does not exist")
            elif anchor and anchor not in anchors(document):
                problems.append(f"{path.relative_to(ROOT)}: docs/{name} has no heading #{anchor}")
    assert cited > 20, "the code should cite its definitions in docs/"
    assert not problems, "; ".join(problems)


def test_the_code_cites_only_documents_in_the_project():
    outside = re.compile(r"\b(METRICS|SEED)\.md\b")
    stale = [str(path.relative_to(ROOT)) for path in _citing_files()
             if outside.search(path.read_text(encoding="utf-8", errors="replace"))]
    assert not stale, f"these cite documents that are not part of the project: {stale}"
