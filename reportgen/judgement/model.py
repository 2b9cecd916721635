"""The model card's judgement: validation accuracy and calibration."""

from __future__ import annotations

from reportgen.judgement.check import Check, Finding
from reportgen.judgement.reading import model_accuracy

#: Validation accuracy below which explanations of the model say little about the task.
LOW_ACCURACY = 0.8
#: Expected calibration error above which the predicted probabilities are called unreliable: a patch's stated
#: tumour probability is then off by more than a tenth of the probability range on average.
HIGH_ECE = 0.1
ACCURACY_CHECK = "Validation accuracy"


def checks(document: dict) -> list[Check]:
    """Accuracy at least :data:`LOW_ACCURACY`; expected calibration error at most :data:`HIGH_ECE`."""
    found = []
    accuracy = model_accuracy(document)
    if accuracy is not None:
        found.append(Check(ACCURACY_CHECK, f"at least {LOW_ACCURACY:g}", f"{accuracy:.3f}",
                           "pass" if accuracy >= LOW_ACCURACY else "warn", "model", value=accuracy,
                           limit=LOW_ACCURACY, direction="at_least"))
    ece = ((document.get("model") or {}).get("evaluation") or {}).get("ece")
    if ece is not None:
        found.append(Check("Calibration (expected calibration error)", f"at most {HIGH_ECE:g}", f"{ece:.3f}",
                           "pass" if ece <= HIGH_ECE else "warn", "model", value=float(ece), limit=HIGH_ECE,
                           direction="at_most"))
    return found


def findings(document: dict) -> list[Finding]:
    """A weak model (high), read from the accuracy check: its explanations say little about the task."""
    return [Finding("high", f"The model's validation accuracy is low ({check.value:.3f} < {check.limit}); "
                            "explanations of a weak model say little about the task.")
            for check in checks(document) if check.name == ACCURACY_CHECK and check.outcome == "warn"]
