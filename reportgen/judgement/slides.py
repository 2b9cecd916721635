"""The slides section's judgement: does the model's accuracy hold on every slide with enough patches?"""

from __future__ import annotations

from reportgen.judgement.check import Check
from reportgen.judgement.model import LOW_ACCURACY

#: Slides with fewer evaluated patches than this are listed but not judged by the page-one check.
MIN_SLIDE_PATCHES = 20


def judged_slides(document: dict) -> dict[str, dict]:
    """Slide -> its ``{"patches", "accuracy"}`` on the evaluated split, for slides with at least
    :data:`MIN_SLIDE_PATCHES` patches (empty without slide ids)."""
    split = (document.get("slides") or {}).get("split") or {}
    return {slide: entry for slide, entry in split.items()
            if entry.get("patches", 0) >= MIN_SLIDE_PATCHES and entry.get("accuracy") is not None}


def worst_slide(judged: dict[str, dict]) -> tuple[str, dict]:
    """(slide, entry) of the lowest accuracy among ``judged`` (ties: the first slide id)."""
    return min(judged.items(), key=lambda item: (item[1]["accuracy"], item[0]))


def checks(document: dict) -> list[Check]:
    """The model's accuracy at least :data:`~reportgen.judgement.model.LOW_ACCURACY` on every judged slide."""
    judged = judged_slides(document)
    if not judged:
        return []
    slide, worst = worst_slide(judged)
    low = sum(1 for entry in judged.values() if entry["accuracy"] < LOW_ACCURACY)
    return [Check("Accuracy on every slide",
                  f"at least {LOW_ACCURACY:g} on each slide with {MIN_SLIDE_PATCHES} or more evaluated patches",
                  f"lowest {worst['accuracy']:.3f} ({slide}, {worst['patches']} patches); {low} of "
                  f"{len(judged)} slides below", "pass" if low == 0 else "warn", "slides",
                  value=float(worst["accuracy"]), limit=LOW_ACCURACY, direction="at_least")]
