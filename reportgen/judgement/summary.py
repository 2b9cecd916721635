"""Page one: the checks of every section, failures first, the warnings, most serious first, and the findings.

:func:`summarise_findings` runs every section's judgement once; ``report.json``'s ``summary`` stores the
result, so the HTML, the gates and a later run's comparison all read the same outcomes.
"""

from __future__ import annotations

from typing import Any

from reportgen.judgement import faithfulness
from reportgen.judgement.check import Check, by_outcome, by_severity, outcome_counts
from reportgen.judgement.reading import model_accuracy
from reportgen.judgement.sections import all_checks, all_findings


def summarise_findings(document: dict, checks: list[Check] | None = None) -> dict[str, Any]:
    """Verdict, most faithful method per metric, warnings, accuracy and page one's checks of a report document.

    Parameters
    ----------
    document : report document, schema_version 1 (``summary`` itself is not read).
    checks : every section's checks of ``document`` (:func:`~reportgen.judgement.sections.all_checks`), when the
        caller already has them.

    Returns
    -------
    dict
        ``{"verdict": str, "findings": [str], "most_faithful": {"deletion", "insertion", "srg": dict | None},
        "warnings": [str], "warning_records": [{"severity", "text", "method"}], "accuracy": float | None,
        "checks": [row], "check_counts": {outcome: int}}``: ``verdict`` is the ``findings`` sentences joined,
        ``warnings`` the records' texts (what a later run compares), ``checks`` page one's rows, failures
        first (:func:`page_one` adds the gates' rows once they are evaluated).
    """
    best, sentences = faithfulness.summary_sentences(document)
    warnings = by_severity(all_findings(document))
    accuracy = model_accuracy(document)
    if accuracy is not None:
        sentences.append(f"The model's validation accuracy is {accuracy:.3f}.")
    sentences.append(f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''} below." if warnings
                     else "No warnings.")
    summary = {"verdict": " ".join(sentences), "findings": sentences, "most_faithful": best,
               "warnings": [warning.text for warning in warnings],
               "warning_records": [warning.record() for warning in warnings], "accuracy": accuracy}
    summary.update(page_one(all_checks(document) if checks is None else checks))
    return summary


def gate_checks(gates: list[dict] | None) -> list[Check]:
    """A page-one check per evaluated ``--fail-if`` gate."""
    return [Check(f"Gate --fail-if {gate.get('expression')}", "the gate holds", str(gate.get("detail", "")),
                  "pass" if gate.get("passed") else "fail", "gates")
            for gate in gates or []]


def page_one(checks: list[Check], gates: list[dict] | None = None) -> dict:
    """``{"checks", "check_counts"}``: the gates' rows and then ``checks``, failures first, then warnings, then
    passes (each group in report order), as report.json stores them."""
    rows = [check.row() for check in by_outcome([*gate_checks(gates), *checks])]
    return {"checks": rows, "check_counts": outcome_counts(rows)}


def page_one_checks(document: dict) -> list[dict]:
    """Page one's rows of a document, its evaluated gates included: :func:`page_one` of every section's checks."""
    return page_one(all_checks(document), document.get("gates"))["checks"]
