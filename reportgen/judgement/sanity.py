"""The sanity section's judgement: does each method's map depend on the model (Adebayo et al., NeurIPS 2018)?

The rule itself (:func:`reportgen.metrics.sanity.decide`): a method passes only when the 95 % interval of its
mean final similarity lies below the threshold; an inconclusive check is no evidence that the maps depend on
the model, so it does not pass either.  A model-independent control must fail, or the check cannot be trusted.
"""

from __future__ import annotations

from reportgen.formatting import fmt_interval
from reportgen.judgement.check import Check, Finding, interval_check
from reportgen.judgement.reading import method_title
from reportgen.judgement.rule import FAIL, INCONCLUSIVE, PASS, combine
from reportgen.schema import ReportDocument, SanityMethod


def sanity_outcome(record: SanityMethod) -> str:
    """``passed``, ``inconclusive`` or ``failed``: the outcome the sanity check's rule gave a map (an earlier
    report without ``outcome``: its ``passed``)."""
    return str(record.outcome or ("passed" if record.passed is True else "failed"))


def sanity_not_passed(document: ReportDocument) -> dict[str, str]:
    """Methods the sanity check did not pass -> their outcome (``failed`` or ``inconclusive``)."""
    methods = {} if document.sanity is None else document.sanity.methods
    return {name: sanity_outcome(record) for name, record in methods.items() if sanity_outcome(record) != "passed"}


def untrusted_controls(document: ReportDocument) -> dict[str, str]:
    """Positive controls (model-independent maps) the check did not fail -> their outcome.

    Any entry means the check cannot tell a model-independent map from an honest one in this
    report, so none of its outcomes can be trusted.
    """
    controls = {} if document.sanity is None else document.sanity.controls
    return {name: sanity_outcome(record) for name, record in controls.items() if sanity_outcome(record) != "failed"}


def sanity_evidence(record: SanityMethod) -> str:
    """``similarity 0.62 [0.41, 0.83]``: the mean final similarity and its 95 % interval."""
    final = record.final
    text = "similarity " + ("n/a" if final is None else f"{float(final):.2f}")
    low, high = (record.ci95 or [None, None])[:2]
    if low is None or high is None:
        return f"{text}, no interval from {len(record.per_image_final or [])} patch(es)"
    return f"{text} [{float(low):.2f}, {float(high):.2f}]"


def checks(document: ReportDocument) -> list[Check]:
    """One check per method (its maps depend on the model) and one for the controls (they fail, as they must)."""
    sanity = document.sanity
    if sanity is None:
        return []
    found = []
    images = int(sanity.images or 0)
    for name, record in sanity.methods.items():
        similarity = fmt_interval({"mean": record.final, "ci95": record.ci95}, 2)
        threshold = record.threshold
        found.append(interval_check(
            f"{method_title(document, name)}: model-randomisation sanity check",
            f"95 % interval of the similarity after randomising the network below {threshold:g}",
            f"{similarity} on {images} patches", "sanity", value=record.final, interval=record.ci95,
            limit=threshold, direction="below", units=images,
            more=lambda k: f"about {k} patches in the check: --sanity-images {k}", gate="sanity", method=name,
            column="sanity"))
    if sanity.controls:
        # The claim is "the check tells a model-independent map from an honest one": a control that failed is
        # evidence for it, one that passed is evidence against it.
        outcome = combine([{"failed": PASS, "passed": FAIL}.get(sanity_outcome(record), INCONCLUSIVE)
                           for record in sanity.controls.values()])
        measured = "; ".join(f"{method_title(document, name)}: {sanity_outcome(record)} ({sanity_evidence(record)})"
                             for name, record in sanity.controls.items())
        found.append(Check("Sanity check control", "a map that ignores the model fails the check", measured,
                           outcome, "sanity", gate="sanity",
                           decide=(f"more patches in the check: --sanity-images {2 * images}"
                                   if outcome == INCONCLUSIVE else "")))
    return found


def findings(document: ReportDocument) -> list[Finding]:
    """One warning per control the check did not fail (high) and per method it did not pass (high when it
    failed, medium when inconclusive)."""
    sanity = document.sanity
    found = []
    for name, outcome in untrusted_controls(document).items():
        record = sanity.controls[name]
        found.append(Finding("high", f"The sanity check's positive control, {method_title(document, name)}, "
                                     f"ignores the model by construction but was {outcome}, not failed "
                                     f"({sanity_evidence(record)}): the sanity check itself is not trustworthy in "
                                     "this report.", name))
    for name, outcome in sanity_not_passed(document).items():
        record = sanity.methods[name]
        threshold = float(record.threshold)
        if outcome == "failed":
            found.append(Finding("high", f"{method_title(document, name)} failed the model-randomisation sanity "
                                         f"check ({sanity_evidence(record)} after randomising the network; the 95 % "
                                         f"interval is at or above {threshold:g}): its maps depend on the image more "
                                         "than on the model.", name))
        else:
            found.append(Finding("medium", f"The model-randomisation sanity check of "
                                           f"{method_title(document, name)} is inconclusive "
                                           f"({sanity_evidence(record)} after randomising the network, on "
                                           f"{len(record.per_image_final or [])} patches; the interval reaches "
                                           f"{threshold:g}): there is no evidence that its maps depend on the model; "
                                           "more --sanity-images narrow the interval.", name))
    return found
