"""The "Sanity checks" section's view: each map's similarity to itself under the cascading model randomisation
(Adebayo et al., 2018), methods first, then the controls that must fail, from the document's ``sanity`` record
(its checks: :mod:`reportgen.judgement.sanity`)."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.formatting import MISSING, fmt, fmt_any
from reportgen.judgement.reading import method_title
from reportgen.judgement.sanity import sanity_outcome, untrusted_controls
from reportgen.schema import ReportDocument, SanityMethod


@dataclass(frozen=True)
class SanityRow:
    """Similarity to the original maps after each randomisation stage (Adebayo et al., 2018).

    ``per_patch`` is the range of the per-patch final similarities and how many reach the
    threshold; ``final`` the mean with its 95 % interval; ``css`` the row's class
    (``pass``, ``fail`` or ``inconclusive``); a control row must fail.
    """

    title: str
    similarities: list[str]
    per_patch: str
    final: str
    outcome: str
    css: str
    control: bool


@dataclass(frozen=True)
class SanityView:
    """The model-randomisation sanity check: method rows, then the positive-control rows."""

    images: str
    stages: list[str]
    threshold: str
    interval: str
    rows: list[SanityRow]
    trustworthy: bool


def short_stage(stage: str) -> str:
    """``backbone.conv1+backbone.bn1`` -> ``conv1+bn1``: module names without their parents, so the table fits."""
    return "+".join(name.rsplit(".", 1)[-1] for name in stage.split("+"))


def _per_patch(values: list, threshold: float) -> str:
    """``-0.42 to 0.75 (2/5 >= t)``: the range of per-patch final similarities and how many reach the threshold."""
    values = [float(v) for v in values if v is not None]
    if not values:
        return MISSING
    above = sum(1 for v in values if v >= threshold)
    return f"{min(values):.2f} to {max(values):.2f} ({above}/{len(values)} \u2265 {threshold:g})"


def _sanity_row(document: ReportDocument, name: str, record: SanityMethod, *, control: bool) -> SanityRow:
    outcome = sanity_outcome(record)
    low, high = (record.ci95 or [None, None])[:2]
    interval = "" if low is None or high is None else f" [{fmt(low, 2)}, {fmt(high, 2)}]"
    if control:
        # A control ignores the model, so "failed" is the outcome that shows the check works.
        shown, css = ("failed, as it must", "pass") if outcome == "failed" else (f"{outcome}: NOT FAILED", "fail")
    else:
        shown, css = {"passed": ("passed", "pass"), "failed": ("FAILED", "fail")}.get(
            outcome, ("inconclusive", "inconclusive"))
    return SanityRow(title=method_title(document, name) + (" (control, must fail)" if control else ""),
                     similarities=[fmt(v, 2) for v in record.similarity],
                     per_patch=_per_patch(record.per_image_final, float(record.threshold)),
                     final=fmt(record.final, 2) + interval, outcome=shown, css=css, control=control)


def sanity_view(document: ReportDocument) -> SanityView | None:
    """The section's table, or ``None`` when the check did not run."""
    sanity = document.sanity
    if sanity is None:
        return None
    methods, controls = sanity.methods, sanity.controls
    rows = [_sanity_row(document, name, record, control=False) for name, record in methods.items()]
    rows += [_sanity_row(document, name, record, control=True) for name, record in controls.items()]
    thresholds = {float(record.threshold) for record in [*methods.values(), *controls.values()]}
    return SanityView(images=fmt_any(sanity.images), stages=[short_stage(str(s)) for s in sanity.stages],
                      threshold=", ".join(f"{t:g}" for t in sorted(thresholds)) or MISSING,
                      interval=sanity.interval or MISSING, rows=rows,
                      trustworthy=not untrusted_controls(document))
