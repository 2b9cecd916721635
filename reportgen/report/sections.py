"""Which of the report's sections a document holds, and the partial that renders each.

The sections and their order are the one list of :mod:`reportgen.judgement.sections`; each is one
partial, ``templates/sections/<anchor>.html.j2``, holding its whole ``<section id="<anchor>">``.  The main
template lists the shown sections in its contents and includes their partials in the same order.  A
section whose data the document lacks (no sanity check ran, no previous report was given) is left out of
both.  Page one (checks and sign-off), the contents and the reading guide stay in the main template,
``templates/report.html.j2``.

A section registered from elsewhere (:func:`reportgen.judgement.sections.register_section`) brings its
partial's source with :func:`register_partial`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reportgen.judgement.sections import sections
from reportgen.schema import ReportDocument, field_hints

if TYPE_CHECKING:
    from reportgen.report.views import ReportContext

#: Where the partials lie inside the ``reportgen.templates`` package.
PARTIALS = "sections"

#: Sections a document may lack -> whether the template's context holds them; the others are always shown.
SHOWN: dict[str, Callable[[ReportContext], bool]] = {
    "gates": lambda report: report.gates is not None,
    "changes": lambda report: report.comparison is not None,
    "substrates": lambda report: bool(report.substrate_drift or report.substrate_rankings),
    "agreement": lambda report: report.spearman is not None,
    "localisation": lambda report: bool(report.localisation),
    "evidence": lambda report: report.evidence is not None,
    "slides": lambda report: report.slides is not None,
    "sanity": lambda report: report.sanity is not None,
    "stability": lambda report: report.stability is not None,
    "stain": lambda report: report.stain is not None,
}

#: Partials of sections registered from elsewhere: anchor -> the partial's template source.
_REGISTERED: dict[str, str] = {}


def register_partial(anchor: str, source: str) -> None:
    """The partial of a section registered from elsewhere, as template source; shown when the document holds
    the section's record."""
    _REGISTERED[anchor] = source


def unregister_partial(anchor: str) -> None:
    _REGISTERED.pop(anchor, None)


@dataclass(frozen=True)
class ShownSection:
    """A section the report shows: its anchor (the ``id`` page one's checks and bookmarks link to), its line in
    the contents, and its partial (a template name, or a template made from a registered partial's source)."""

    anchor: str
    title: str
    partial: Any


def section_record(document: ReportDocument, key: str) -> Any:
    """The record under top-level ``key``: a field of the document, or the record of a section registered beyond
    the schema (``added_sections``); ``None`` when the document holds none."""
    if key in field_hints(ReportDocument):
        return getattr(document, key)
    return document.added_sections.get(key)


def shown_sections(report: ReportContext, document: ReportDocument, environment) -> tuple[ShownSection, ...]:
    """The sections ``report`` holds, in the report's order: the contents and the body, both."""
    shown = []
    for section in sections():
        if section.anchor in _REGISTERED:
            if section_record(document, section.key) is not None:
                shown.append(ShownSection(section.anchor, section.title,
                                          environment.from_string(_REGISTERED[section.anchor])))
        elif SHOWN.get(section.anchor, lambda report: True)(report):
            shown.append(ShownSection(section.anchor, section.title, f"{PARTIALS}/{section.anchor}.html.j2"))
    return tuple(shown)
