"""The "Limitations" section: what the numbers of this report cannot say, in sentences read from the document
(synthetic data, few patches, the unit of resampling, the tracked class, missing checks and masks, the
substrates)."""

from __future__ import annotations

from reportgen.formatting import fmt_interval
from reportgen.metrics.localisation import UNIFORM_CENTRE_MASS

#: Fewer explained patches than this get a sentence on wide intervals.
SMALL_SAMPLE = 50


def limitation_sentences(document: dict) -> list[str]:
    """The section's sentences, the substrates' last."""
    limitations = []
    data = document.get("data") or {}
    if data.get("source") == "synthetic":
        limitations.append("The data are synthetic: these numbers say nothing about tissue; they check that the "
                           "pipeline works.")
    n = len(document.get("images") or [])
    if n < SMALL_SAMPLE:
        informative = document.get("informative") or {}
        counts = ", ".join(f"{(informative.get(kind) or {}).get('count', 'n/a')} informative for {kind}"
                           for kind in ("deletion", "insertion"))
        limitations.append(f"Only {n} patches were explained ({counts}): intervals are wide, and a claim is decided "
                           "only by the verdict rule above; the claims it could not decide are listed as such.")
    uncertainty = (document.get("settings") or {}).get("uncertainty") or {}
    if uncertainty.get("unit") == "slide":
        limitations.append(f"Intervals and tests resample the {uncertainty.get('slides')} slides the patches come "
                           "from, not the patches: with few slides, few claims can be decided.")
    else:
        limitations.append("The data carry no slide ids, so intervals and tests treat the patches as independent; "
                           "patches from one slide are not, so they are optimistic where several share a slide.")
    settings = document.get("settings") or {}
    if settings.get("target") == "label":
        limitations.append("Explanations track the ground-truth label, not the model's prediction.")
    if not document.get("sanity"):
        limitations.append("No model-randomisation sanity check was run.")
    if not data.get("has_masks"):
        limitations.append("No ground-truth masks: localisation is judged only by the centre 32x32 region "
                           f"(a uniform map puts {UNIFORM_CENTRE_MASS:.3f} of its mass there).")
    limitations.append(_substrate_limitation(document))
    return limitations


def _substrate_limitation(document: dict) -> str:
    """Deletion and insertion depend on their substrate: say by how much each used one moves the model on its own."""
    text = ("Deletion and insertion replace pixels with a substrate the model never saw in training, so their "
            "scores depend on it")
    scope = document.get("substrate_scope") or {}
    used = [(name, entry) for name, entry in (scope.get("substrates") or {}).items() if entry.get("used_for")]
    if not used:
        return text + "."
    measured = "; ".join(f"{name} ({' and '.join(entry['used_for'])}) {fmt_interval(entry.get('drift') or {})}"
                         for name, entry in used)
    return (text + f": replacing a random 10-30 % of the pixels alone changes the tracked-class probability by "
            f"{measured} on average (see Substrates). SRG is the least dependent on the substrate.")
