"""The "Slides" section's view, from ``document["slides"]`` (its check: :mod:`reportgen.judgement.slides`)."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.formatting import MISSING, fmt, fmt_signed
from reportgen.judgement.reading import method_title


@dataclass(frozen=True)
class SlideRow:
    """One slide: patches and accuracy on the split, explained and informative patches, each method's gain."""

    slide: str
    patches: str
    accuracy: str
    explained: str
    informative: str
    gains: list[str]


@dataclass(frozen=True)
class SlidesView:
    """Per slide, lowest accuracy first, and the worst slide of each method."""

    rule: str
    titles: list[str]
    rows: list[SlideRow]
    worst: list[str]


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
