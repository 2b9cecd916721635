"""The quantities a scheduled audit follows from run to run: where the evidence lies, and the model's checks.

Gates (:mod:`reportgen.judgement.gates`) compare them with a bound and the comparison
with the previous report (:mod:`reportgen.judgement.compare`) shows how they moved, so
a retrained model whose evidence left the centre is seen even when its AUCs and
accuracy improved.  Each reader gets one value per quantity, or ``None`` when the
report does not hold it (the step did not run, no slide ids, no masks).
"""

from __future__ import annotations

from reportgen.judgement.slides import MIN_SLIDE_PATCHES, judged_slides, worst_slide
from reportgen.judgement.stain import model_stain_conditions
from reportgen.schema import Interval, Rate, ReportDocument

#: Per-method quantity -> (its field of ``document.localisation[method]``, what it is).
METHOD_MEASURES = {
    "centre_mass": ("centre_mass", "share of attribution in the centre 32x32"),
    "mass_in_mask": ("mass_in_mask", "share of attribution in the tumour mask"),
}
#: Model-level quantity -> what it is.
MODEL_MEASURES = {
    "periphery_reliance": "share of tumour calls lost when the periphery is replaced",
    "stain_flip_rate": "largest prediction flip rate under the stain conditions the model's check reads",
    "slide_accuracy": f"lowest accuracy on a slide with {MIN_SLIDE_PATCHES} or more evaluated patches",
}


def _mean(record: Interval | Rate | None) -> float | None:
    value = None if record is None else record.mean
    return None if value is None else float(value)


def method_measure(document: ReportDocument, method: str, quantity: str) -> float | None:
    """Mean of a per-method quantity (a key of :data:`METHOD_MEASURES`) over the explained patches, or None (also
    where an earlier report lacks it)."""
    key, _ = METHOD_MEASURES[quantity]
    record = (document.localisation or {}).get(method)
    return None if record is None else _mean(getattr(record, key))


def model_measure(document: ReportDocument, quantity: str) -> float | None:
    """Value of a model-level quantity (a key of :data:`MODEL_MEASURES`), or None when the report lacks it."""
    if quantity == "periphery_reliance":
        return None if document.evidence is None else _mean(document.evidence.lost_without_periphery)
    if quantity == "stain_flip_rate":
        rates = [_mean(condition.flip_rate) for condition in model_stain_conditions(document.stain_robustness)]
        rates = [rate for rate in rates if rate is not None]
        return max(rates) if rates else None
    if quantity == "slide_accuracy":
        judged = judged_slides(document)
        return float(worst_slide(judged)[1].accuracy) if judged else None
    raise KeyError(quantity)
