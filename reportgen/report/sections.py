"""The report's sections, in reading order: the one list behind the contents and the body.

Each section is one partial, ``templates/sections/<key>.html.j2``, holding its
whole ``<section id="<key>">``; the main template lists the shown sections in
its contents and includes their partials in the same order.  A section whose
data the document lacks (no sanity check ran, no previous report was given)
is left out of both.  Page one (checks and sign-off), the contents and the
reading guide stay in the main template, ``templates/report.html.j2``.

Adding a section is one record here and one partial; ``tests/test_report_sections.py``
checks that every record has its partial and that the rendered contents and
body follow this order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reportgen.report.views import ReportContext

#: Where the partials lie inside the ``reportgen.templates`` package.
PARTIALS = "sections"


def _always(report: ReportContext) -> bool:
    return True


@dataclass(frozen=True)
class Section:
    """One section of the report.

    Attributes
    ----------
    key : the section's name; also its anchor (the ``id`` of its ``<section>``, which page one's checks
        and readers' bookmarks link to, so it stays stable) and the name of its partial.
    title : its line in the contents (the partial's heading may be longer).
    shown : whether the report holds the section, read from the template's context; default always.
    """

    key: str
    title: str
    shown: Callable[[ReportContext], bool] = _always

    @property
    def anchor(self) -> str:
        """The ``id`` of the section's ``<section>`` element: ``#<anchor>`` links to it."""
        return self.key

    @property
    def partial(self) -> str:
        """The template name of its partial, as the template loader resolves it."""
        return f"{PARTIALS}/{self.key}.html.j2"


SECTIONS: tuple[Section, ...] = (
    Section("summary", "Summary"),
    Section("gates", "Gates", lambda report: report.gates is not None),
    Section("changes", "Changes since the previous report", lambda report: report.comparison is not None),
    Section("model", "Model card"),
    Section("data", "Data"),
    Section("methods", "Methods and settings"),
    Section("faithfulness", "Faithfulness"),
    Section("substrates", "Substrates", lambda report: bool(report.substrate_drift or report.substrate_rankings)),
    Section("agreement", "Agreement", lambda report: report.spearman is not None),
    Section("localisation", "Localisation", lambda report: bool(report.localisation)),
    Section("evidence", "Right for the right reason", lambda report: report.evidence is not None),
    Section("slides", "Slides", lambda report: report.slides is not None),
    Section("sanity", "Sanity checks", lambda report: report.sanity is not None),
    Section("stability", "Stability of the explanations", lambda report: report.stability is not None),
    Section("stain", "Stain robustness", lambda report: report.stain is not None),
    Section("patches", "Explained patches"),
    Section("limitations", "Limitations"),
    Section("reproducibility", "Reproducibility"),
    Section("appendix", "Appendix: settings and records as stored"),
)


def shown_sections(report: ReportContext) -> tuple[Section, ...]:
    """The sections ``report`` holds, in :data:`SECTIONS` order: the contents and the body, both."""
    return tuple(section for section in SECTIONS if section.shown(report))
