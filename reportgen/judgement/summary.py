"""Page one: the checks of every section, failures first, the warnings, most serious first, and the findings.

:func:`summarise_findings` runs every section's judgement once; ``report.json``'s ``summary`` stores the
result, so the HTML, the gates and a later run's comparison all read the same outcomes.
"""

from __future__ import annotations

from typing import Any

from reportgen.judgement import faithfulness
from reportgen.judgement.check import Check, by_outcome, by_severity, outcome_counts
from reportgen.judgement.reading import DIRECTIONS, model_accuracy
from reportgen.judgement.rule import FAIL, INCONCLUSIVE, OUTCOMES, PASS
from reportgen.judgement.sections import all_checks, all_findings
from reportgen.schema import ReportDocument


def _names(checks: list[Check]) -> str:
    return "; ".join(check.name for check in checks)


def outcome_sentences(checks: list[Check], warnings: int) -> list[str]:
    """Page one's prose, at most four sentences, each reading checks' outcomes: the counts, the failures, the
    methods shown faithful, the warnings (each inconclusive check says what would decide it in its row)."""
    counts = {outcome: [check for check in checks if check.outcome == outcome] for outcome in OUTCOMES}
    sentences = [f"Of {len(checks)} checks, {len(counts[FAIL])} failed, {len(counts[INCONCLUSIVE])} are "
                 f"inconclusive and {len(counts[PASS])} passed, each by its 95 % evidence against its limit."]
    if counts[FAIL]:
        sentences.append(f"Failed: {_names(counts[FAIL])}.")
    faithful = [check for check in checks if check.column == "faithfulness"]
    if faithful:
        shown = [check.name.split(":")[0] for check in faithful if check.outcome == PASS]
        sentences.append(f"Shown faithful to the model (better than the random map by every primary claim): "
                         f"{', '.join(shown)}." if shown else
                         "No method is shown faithful to the model by its primary claims.")
    sentences.append(f"{warnings} warning{'s' if warnings != 1 else ''} below." if warnings else "No warnings.")
    return sentences


def summarise_findings(document: ReportDocument, checks: list[Check] | None = None) -> dict[str, Any]:
    """Page one's sentences, the most faithful method per metric, the warnings, the accuracy and the checks.

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
        "checks": [row], "check_counts": {outcome: int}}``: ``findings`` are page one's sentences
        (:func:`outcome_sentences`) and ``verdict`` them joined, ``warnings`` the records' texts (what a later
        run compares), ``checks`` page one's rows, failures first (:func:`page_one` adds the gates' rows once
        they are evaluated).
    """
    checks = all_checks(document) if checks is None else checks
    warnings = by_severity(all_findings(document))
    sentences = outcome_sentences(checks, len(warnings))
    best = {kind: faithfulness.most_faithful(document, kind) for kind in DIRECTIONS}
    summary = {"verdict": " ".join(sentences), "findings": sentences, "most_faithful": best,
               "warnings": [warning.text for warning in warnings],
               "warning_records": [warning.record() for warning in warnings], "accuracy": model_accuracy(document)}
    summary.update(page_one(checks))
    return summary


def gate_checks(gates: list[dict] | None) -> list[Check]:
    """A page-one check per evaluated ``--fail-if`` gate."""
    return [Check(f"Gate --fail-if {gate.get('expression')}", "the gate holds", str(gate.get("detail", "")),
                  PASS if gate.get("passed") else FAIL, "gates")
            for gate in gates or []]


def page_one(checks: list[Check], gates: list[dict] | None = None) -> dict:
    """``{"checks", "check_counts"}``: the gates' rows and then ``checks``, failures first, then inconclusive
    checks, then passes (each group in report order), as report.json stores them."""
    rows = [check.row() for check in by_outcome([*gate_checks(gates), *checks])]
    return {"checks": rows, "check_counts": outcome_counts(rows)}


def page_one_checks(document: ReportDocument) -> list[dict]:
    """Page one's rows of a document, its evaluated gates included: :func:`page_one` of every section's checks."""
    return page_one(all_checks(document), document.gates)["checks"]
