"""The "Slides" section and its page-one check, from ``document["slides"]``: does it hold on every slide?"""

from __future__ import annotations

from reportgen.report.formatting import MISSING, fmt, fmt_signed
from reportgen.report.summary import LOW_ACCURACY, method_title
from reportgen.report.views import SlideRow, SlidesView

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


def slides_check(document: dict) -> dict | None:
    """Page one's row: the model's accuracy on every slide with enough patches, or None without slides."""
    judged = judged_slides(document)
    if not judged:
        return None
    slide, worst = worst_slide(judged)
    low = sum(1 for entry in judged.values() if entry["accuracy"] < LOW_ACCURACY)
    return {"check": "Accuracy on every slide",
            "condition": f"at least {LOW_ACCURACY:g} on each slide with {MIN_SLIDE_PATCHES} or more evaluated patches",
            "measured": f"lowest {worst['accuracy']:.3f} ({slide}, {worst['patches']} patches); {low} of "
                        f"{len(judged)} slides below",
            "outcome": "pass" if low == 0 else "warn", "section": "slides"}


def slides_view(document: dict) -> SlidesView | None:
    """Slides sorted by accuracy, lowest first, with each method's deletion gain on their explained patches."""
    record = document.get("slides")
    if not record:
        return None
    methods = list(document.get("methods") or {})
    split, explained = record.get("split") or {}, record.get("explained") or {}
    names = sorted(set(split) | set(explained),
                   key=lambda s: ((split.get(s) or {}).get("accuracy", 2.0), s))
    rows = []
    for slide in names:
        entry, shown = split.get(slide) or {}, explained.get(slide) or {}
        gains = [fmt_signed(((shown.get("methods") or {}).get(name) or {}).get("deletion_gain"))
                 for name in methods]
        rows.append(SlideRow(slide=slide, patches=str(entry.get("patches", MISSING)), accuracy=fmt(entry.get("accuracy")),
                             explained=str(shown.get("patches", 0)), informative=str(shown.get("informative", 0)),
                             gains=gains))
    worst = []
    for name, entry in (record.get("worst") or {}).items():
        if entry:
            worst.append(f"{method_title(document, name)}: {entry['slide']} (deletion gain "
                         f"{fmt_signed(entry['deletion_gain'])})")
    return SlidesView(rule=str(record.get("rule", "")), titles=[method_title(document, name) for name in methods],
                      rows=rows, worst=worst)
