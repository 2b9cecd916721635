"""A report section is a unit: a toy section registered here gets its page-one row, its gate and its key in
report.json without a change anywhere else."""

import json

import pytest
from gold.fixture import make_figures, make_record

from reportgen.config import resolve_config
from reportgen.errors import ConfigError
from reportgen.judgement import Check, Section, parse_gate, register_section, sections, unregister_section
from reportgen.judgement.check import interval_check
from reportgen.judgement.sections import FlagGate, flag_gates
from reportgen.pipeline.document import assemble_document
from reportgen.pipeline.output import write_outputs
from reportgen.report.render import render_html
from reportgen.report.sections import register_partial, unregister_partial

#: The toy rule: the mean tumour probability of the explained patches is at most this.
TOY_LIMIT = 0.9


def _toy_record(build) -> dict:
    probabilities = build.selection.probabilities[:, 1]
    return {"mean_tumour_probability": float(probabilities.mean()),
            "range": [float(probabilities.min()), float(probabilities.max())]}


def _toy_checks(document: dict) -> list[Check]:
    record = document.get("toy")
    if not record:
        return []
    value = record["mean_tumour_probability"]
    return [interval_check("Toy: mean tumour probability", f"at most {TOY_LIMIT:g}", f"{value:.3f}", "toy",
                           value=value, interval=record["range"], limit=TOY_LIMIT, direction="at_most", units=3,
                           more=lambda k: f"about {k} toy patches", gate="toy")]


TOY = Section("toy", "toy", "Toy section", checks=_toy_checks, record=_toy_record,
              gates={"toy": FlagGate("the toy rule holds", "skipped: no toy section")})


@pytest.fixture
def toy_section():
    register_section(TOY, before="limitations")
    register_partial("toy", '<section id="toy">\n<h2>{{ section.title }}</h2>\n</section>\n')
    yield TOY
    unregister_section("toy")
    unregister_partial("toy")


def test_a_registered_section_gets_its_row_its_gate_and_its_key(toy_section, tmp_path):
    anchors = [section.anchor for section in sections()]
    assert anchors.index("toy") == anchors.index("limitations") - 1
    record = make_record(3)
    expected = float(record.selection.probabilities[:, 1].mean())
    document = assemble_document(record, gates=[parse_gate("toy_failed")])
    # Its key in report.json, made by the section from the build's results.
    write_outputs(tmp_path, document, resolve_config(flag_values={}))
    stored = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert stored["toy"]["mean_tumour_probability"] == pytest.approx(expected)
    # Its row on page one, read from the one Check by the report's rule.
    (row,) = [row for row in stored["summary"]["checks"] if row["section"] == "toy"]
    assert row["condition"] == "at most 0.9" and row["measured"] == f"{expected:.3f}"
    low, high = stored["toy"]["range"]
    outcome = "pass" if high <= TOY_LIMIT else "fail" if low > TOY_LIMIT else "inconclusive"
    assert row["outcome"] == outcome and row["gate"] == "toy"
    # Its gate, which reads the same check's outcome.
    (gate,) = stored["gates"]
    assert gate["passed"] == (outcome != "fail")
    assert gate["detail"] == ("Toy: mean tumour probability: FAIL" if outcome == "fail" else "1 check not failed")
    # Rendered: the row on page one links to the section, which the contents list and the body holds.
    html = render_html(document, make_figures(3))
    page_one, body = html.split('<nav class="contents"', 1)
    assert '<a href="#toy">Toy: mean tumour probability</a>' in page_one
    assert '<li><a href="#toy">Toy section</a></li>' in body
    assert '<section id="toy">' in body
    # ... and the appendix shows its record raw, under its key.
    appendix = body.split("<section id=\"appendix\"", 1)[1]
    assert "Toy section (toy)" in appendix and "mean_tumour_probability" in appendix


def test_a_section_flips_its_gates_with_its_check(toy_section):
    gates = [parse_gate("toy_failed"), parse_gate("toy_not_passed")]
    record = make_record(3)
    record.selection.probabilities[:, 1] = 0.95  # every patch called tumour with p = 0.95: the toy rule fails
    document = assemble_document(record, gates=gates)
    assert [row["outcome"] for row in document["summary"]["checks"] if row["section"] == "toy"] == ["fail"]
    assert [gate["passed"] for gate in document["gates"]] == [False, False]
    record.selection.probabilities[:, 1] = [0.5, 0.8, 0.95]  # the range crosses the limit: inconclusive
    document = assemble_document(record, gates=gates)
    assert [row["outcome"] for row in document["summary"]["checks"] if row["section"] == "toy"] == ["inconclusive"]
    assert [gate["passed"] for gate in document["gates"]] == [True, False]


def test_unregistered_gates_are_refused_and_registered_ones_listed(toy_section):
    assert {"toy_failed", "toy_not_passed"} <= set(flag_gates())
    unregister_section("toy")
    with pytest.raises(ConfigError, match="toy_failed"):
        parse_gate("toy_failed")
    with pytest.raises(ValueError, match="already declared"):
        register_section(Section("other", "other", "Other", gates={"sanity": TOY.gates["toy"]}))
