"""The "Limitations" section: what the numbers of this report cannot say, in sentences read from the document
(synthetic data, few patches, the unit of resampling, the tracked class, missing checks and masks, the
substrates)."""

from __future__ import annotations

from reportgen.data.label_region import applies
from reportgen.formatting import fmt_interval
from reportgen.metrics.localisation import UNIFORM_CENTRE_MASS
from reportgen.schema import ReportDocument

#: Fewer explained patches than this get a sentence on wide intervals.
SMALL_SAMPLE = 50


def limitation_sentences(document: ReportDocument) -> list[str]:
    """The section's sentences, the substrates' last."""
    limitations = []
    data, settings = document.data, document.settings
    if data.source == "synthetic":
        limitations.append("The data are synthetic: these numbers say nothing about tissue; they check that the "
                           "pipeline works.")
    n = len(document.images)
    if n < SMALL_SAMPLE:
        informative = document.informative
        counts = (f"{informative.deletion.count} informative for deletion, "
                  f"{informative.insertion.count} informative for insertion")
        limitations.append(f"Only {n} patches were explained ({counts}): intervals are wide, and a claim is decided "
                           "only by the verdict rule above; the claims it could not decide are listed as such.")
    if settings.uncertainty.unit == "slide":
        limitations.append(f"Intervals and tests resample the {settings.uncertainty.slides} slides the patches come "
                           "from, not the patches: with few slides, few claims can be decided.")
    else:
        limitations.append("The data carry no slide ids, so intervals and tests treat the patches as independent; "
                           "patches from one slide are not, so they are optimistic where several share a slide.")
    if settings.target == "label":
        limitations.append("Explanations track the ground-truth label, not the model's prediction.")
    if document.sanity is None:
        limitations.append("No model-randomisation sanity check was run.")
    if not data.has_masks and applies(data.label_region):
        limitations.append("No ground-truth masks: localisation is judged only by the centre 32x32 region "
                           f"(a uniform map puts {UNIFORM_CENTRE_MASS:.3f} of its mass there).")
    elif not data.has_masks:
        limitations.append("No ground-truth masks and no region that decides the label: where the maps put their "
                           "attribution is described, not judged.")
    limitations.append(_substrate_limitation(document))
    return limitations


def _substrate_limitation(document: ReportDocument) -> str:
    """Deletion and insertion depend on their substrate: say by how much each used one moves the model on its own."""
    text = ("Deletion and insertion replace pixels with a substrate the model never saw in training, so their "
            "scores depend on it")
    scope = document.substrate_scope
    used = [] if scope is None else [(name, entry) for name, entry in scope.substrates.items() if entry.used_for]
    if not used:
        return text + "."
    measured = "; ".join(f"{name} ({' and '.join(entry.used_for)}) {fmt_interval(entry.drift)}"
                         for name, entry in used)
    return (text + f": replacing a random 10-30 % of the pixels alone changes the tracked-class probability by "
            f"{measured} on average (see Substrates). SRG is the least dependent on the substrate.")
