"""The "Slides" section's view, from ``document.slides`` (its check: :mod:`reportgen.judgement.slides`)."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.formatting import MISSING, fmt, fmt_signed
from reportgen.judgement.reading import method_title
from reportgen.schema import ReportDocument, SlideAccuracy, SlideExplained


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


def _slide_row(slide: str, entry: SlideAccuracy | None, shown: SlideExplained | None, methods: list[str]) -> SlideRow:
    """One slide's row; ``entry`` is None for a slide with no evaluated patch, ``shown`` for one with no explained
    patch."""
    on_slide = {} if shown is None else shown.methods
    gains = [fmt_signed(None if on_slide.get(name) is None else on_slide[name].deletion_gain) for name in methods]
    return SlideRow(slide=slide, patches=MISSING if entry is None else str(entry.patches),
                    accuracy=fmt(None if entry is None else entry.accuracy),
                    explained=str(0 if shown is None else shown.patches),
                    informative=str(0 if shown is None else shown.informative), gains=gains)


def slides_view(document: ReportDocument) -> SlidesView | None:
    """Slides sorted by accuracy, lowest first, with each method's deletion gain on their explained patches."""
    record = document.slides
    if record is None:
        return None
    methods = list(document.methods)
    split, explained = record.split, record.explained
    names = sorted(set(split) | set(explained), key=lambda s: (split[s].accuracy if s in split else 2.0, s))
    rows = [_slide_row(slide, split.get(slide), explained.get(slide), methods) for slide in names]
    worst = [f"{method_title(document, name)}: {entry.slide} (deletion gain {fmt_signed(entry.deletion_gain)})"
             for name, entry in record.worst.items() if entry is not None]
    return SlidesView(rule=record.rule, titles=[method_title(document, name) for name in methods],
                      rows=rows, worst=worst)
