"""The slides section's judgement: does the model's accuracy hold on every slide with enough patches?

Each judged slide's accuracy carries the exact binomial 95 % interval on its patches, and the check follows the
report's one rule (:mod:`reportgen.judgement.rule`) slide by slide: it fails when some slide's interval lies
wholly below :data:`~reportgen.judgement.model.LOW_ACCURACY`, passes when every slide's lies wholly at or above
it, and is inconclusive otherwise.
"""

from __future__ import annotations

from reportgen.judgement.check import Check
from reportgen.judgement.model import LOW_ACCURACY
from reportgen.judgement.rule import FAIL, INCONCLUSIVE, combine, interval_outcome, units_to_decide
from reportgen.schema import ReportDocument, SlideAccuracy

#: Slides with fewer evaluated patches than this are listed but not judged by the page-one check.
MIN_SLIDE_PATCHES = 20


def judged_slides(document: ReportDocument) -> dict[str, SlideAccuracy]:
    """Slide -> its accuracy on the evaluated split, for slides with at least :data:`MIN_SLIDE_PATCHES` patches
    (empty without slide ids, or an earlier report without the split)."""
    split = (None if document.slides is None else document.slides.split) or {}
    return {slide: entry for slide, entry in split.items()
            if (entry.patches or 0) >= MIN_SLIDE_PATCHES and entry.accuracy is not None}


def worst_slide(judged: dict[str, SlideAccuracy]) -> tuple[str, SlideAccuracy]:
    """(slide, entry) of the lowest accuracy among ``judged`` (ties: the first slide id)."""
    return min(judged.items(), key=lambda item: (item[1].accuracy, item[0]))


def slide_outcome(entry: SlideAccuracy) -> str:
    """The rule on one slide's accuracy interval."""
    return interval_outcome(entry.ci95, LOW_ACCURACY, "at_least")


def checks(document: ReportDocument) -> list[Check]:
    """The model's accuracy at least :data:`~reportgen.judgement.model.LOW_ACCURACY` on every judged slide."""
    judged = judged_slides(document)
    if not judged:
        return []
    outcomes = {slide: slide_outcome(entry) for slide, entry in judged.items()}
    slide, worst = worst_slide(judged)
    low, high = worst.ci95 or [None, None]
    failed = sum(1 for outcome in outcomes.values() if outcome == FAIL)
    undecided = [s for s, outcome in outcomes.items() if outcome == INCONCLUSIVE]
    outcome = combine(list(outcomes.values()))
    decide = ""
    if outcome == INCONCLUSIVE:
        wanted = [units_to_decide(judged[s].accuracy, judged[s].ci95, LOW_ACCURACY, judged[s].patches)
                  for s in undecided]
        wanted = [k for k in wanted if k is not None]
        decide = (f"about {max(wanted)} evaluated patches on each of the {len(undecided)} undecided slides"
                  if wanted else "an undecided slide's accuracy sits on the limit")
    interval = "" if low is None else f" [{low:.3f}, {high:.3f}]"
    return [Check("Accuracy on every slide",
                  f"at least {LOW_ACCURACY:g} on each slide with {MIN_SLIDE_PATCHES} or more evaluated patches "
                  "(exact 95 % interval per slide)",
                  f"lowest {worst.accuracy:.3f}{interval} ({slide}, {worst.patches} patches); of "
                  f"{len(judged)} slides {failed} below, {len(undecided)} undecided", outcome, "slides",
                  gate="slides", decide=decide, value=float(worst.accuracy),
                  interval=None if low is None else (low, high), limit=LOW_ACCURACY, direction="at_least")]
