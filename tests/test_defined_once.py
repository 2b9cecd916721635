"""Every threshold of a page-one rule is defined once, beside the code that owns it: its value appears nowhere
else in ``reportgen/`` or ``templates/``, neither as a second definition nor as a literal in a sentence or a
comparison; the template, the prose and the checks read the constant."""

import re
from pathlib import Path

import pytest

from reportgen.judgement import model, slides
from reportgen.metrics import evidence, localisation, sanity, stain, verdicts

ROOT = Path(__file__).resolve().parents[1]
#: (module, constant) of every threshold a page-one check or warning applies.
THRESHOLDS = [
    (localisation, "UNIFORM_CENTRE_MASS"), (model, "LOW_ACCURACY"), (model, "HIGH_ECE"),
    (slides, "MIN_SLIDE_PATCHES"), (sanity, "SIMILARITY_THRESHOLD"), (evidence, "PERIPHERY_FLIP_LIMIT"),
    (stain, "MODEL_FLIP_RATE_MAX"), (stain, "CLASS_STAIN_SHIFT_MAX"),
    (stain, "STABLE_FLIP_RATE"), (stain, "STABLE_PROBABILITY_CHANGE"),
    (stain, "MAP_SPEARMAN_MIN"), (verdicts, "MIN_SCORE_CHANGE"),
]
#: How a rule's number is written when it is stated instead of read: "at least 5", "< 0.8", "20 or more".
PHRASES = ("at least {}", "at most {}", "below {}", "above {}", "more than {}", "fewer than {}", "< {}", "<= {}",
           "> {}", ">= {}", "{} or more", "{} or fewer")
#: Where rules are applied and stated: the judgement, the document's producer, the rules' modules, the
#: presentation and the templates (the training, data and explanation code use the same numbers for other things).
SCOPE = ("reportgen/judgement", "reportgen/pipeline", "reportgen/metrics", "reportgen/report", "reportgen/schema",
         "templates")


def _sources(scope=("reportgen", "templates")) -> dict[Path, str]:
    files = []
    for part in scope:
        path = ROOT / part
        files += [path] if path.is_file() else [*path.rglob("*.py"), *path.rglob("*.j2")]
    return {path: path.read_text(encoding="utf-8") for path in files}


def _written(value: float) -> list[str]:
    """The ways a threshold's value is written: 0.111 for the uniform share, 20 or 20.0, 0.1."""
    forms = {f"{value:g}", repr(value)}
    if not float(value).is_integer():
        forms.add(f"{value:.3f}".rstrip("0"))
    return sorted(forms)


@pytest.mark.parametrize("module, name", THRESHOLDS, ids=[name for _, name in THRESHOLDS])
def test_a_threshold_is_defined_once_and_stated_nowhere_else(module, name):
    sources = _sources()
    definition = re.compile(rf"^{name}\s*(:[^=]*)?=", re.MULTILINE)
    defined = [path for path, text in sources.items() if definition.search(text)]
    assert defined == [Path(module.__file__)], f"{name} is defined in {defined}"
    value = getattr(module, name)
    stated = []
    for path, text in _sources(SCOPE).items():
        for number, line in enumerate(text.splitlines(), start=1):
            if definition.match(line):
                continue
            for form in _written(value):
                for phrase in PHRASES:
                    if re.search(rf"{re.escape(phrase.format(form))}(?![\d.])", line):
                        stated.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not stated, f"{name} = {value} is stated again instead of read:\n" + "\n".join(sorted(set(stated)))


def test_the_uniform_centre_share_is_written_nowhere_but_its_definition():
    found = [f"{path.relative_to(ROOT)}:{number}" for path, text in _sources().items()
             for number, line in enumerate(text.splitlines(), start=1)
             if re.search(r"0\.111|1024 ?/ ?9216", line) and "UNIFORM_CENTRE_MASS" not in line]
    assert not found, f"the uniform centre share is written out at {found}"


def test_the_limits_document_is_generated_from_the_code():
    from reportgen.judgement.limits import limits_markdown

    assert (ROOT / "docs" / "limits.md").read_text(encoding="utf-8") == limits_markdown(), (
        "docs/limits.md differs from the code; regenerate it with python -m reportgen.judgement.limits > docs/limits.md")
