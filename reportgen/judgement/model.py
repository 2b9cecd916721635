"""The model card's judgement: validation accuracy and calibration, each decided by its interval.

Both are measured on every evaluated patch, with 95 % intervals in the report's unit
(:func:`reportgen.model.evaluate.evaluation_intervals`), and decided by the report's one rule
(:mod:`reportgen.judgement.rule`).
"""

from __future__ import annotations

from reportgen.formatting import fmt_interval
from reportgen.judgement.check import Check, Finding, interval_check
from reportgen.judgement.reading import model_accuracy, more_evaluated
from reportgen.judgement.rule import FAIL
from reportgen.schema import ReportDocument

#: Validation accuracy below which explanations of the model say little about the task.
LOW_ACCURACY = 0.8
#: Expected calibration error above which the predicted probabilities are called unreliable: a patch's stated
#: tumour probability is then off by more than a tenth of the probability range on average.
HIGH_ECE = 0.1
ACCURACY_CHECK = "Validation accuracy"


def evaluation_units(intervals: dict) -> tuple[int, str]:
    """(how many units the model's intervals rest on, their noun): slides where slide ids exist, else patches."""
    units = int(intervals.get("units") or 0)
    return units, "slides" if intervals.get("unit") == "slide" else "evaluated patches"


def checks(document: ReportDocument) -> list[Check]:
    """Accuracy at least :data:`LOW_ACCURACY`; expected calibration error at most :data:`HIGH_ECE`."""
    evaluation = document.model.evaluation
    intervals = evaluation.get("intervals") or {}
    units, noun = evaluation_units(intervals)
    found = []
    accuracy = model_accuracy(document)
    if accuracy is not None:
        record = intervals.get("accuracy") or {"mean": accuracy, "ci95": None}
        found.append(interval_check(
            ACCURACY_CHECK, f"at least {LOW_ACCURACY:g}", f"{fmt_interval(record, 3)} on {units} {noun}", "model",
            value=accuracy, interval=record.get("ci95"), limit=LOW_ACCURACY, direction="at_least", units=units,
            more=more_evaluated(noun), gate="accuracy"))
    ece = evaluation.get("ece")
    if ece is not None:
        record = intervals.get("ece") or {"mean": ece, "ci95": None}
        found.append(interval_check(
            "Calibration (expected calibration error)", f"at most {HIGH_ECE:g}",
            f"{fmt_interval(record, 3)} on {units} {noun}", "model", value=ece, interval=record.get("ci95"),
            limit=HIGH_ECE, direction="at_most", units=units, more=more_evaluated(noun), gate="calibration"))
    return found


def findings(document: ReportDocument) -> list[Finding]:
    """A weak model (high), read from the accuracy check: its explanations say little about the task."""
    return [Finding("high", f"The model's validation accuracy is below {check.limit:g} ({check.measured}); "
                            "explanations of a weak model say little about the task.")
            for check in checks(document) if check.name == ACCURACY_CHECK and check.outcome == FAIL]
