"""The report's sections, in report order: one list drives the contents, page one, the warnings, the gates
and the keys of ``report.json``.

A section declares its key in ``report.json``, its anchor and title, the checks and warnings it judges from
the finished document, the ``--fail-if`` flag gates that read its checks, and (optionally) how its record is
made from the build's results.  A new section with one page-one check is one module that makes a
:class:`Section`, one template partial, and one :func:`register_section` call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reportgen.judgement import faithfulness, localisation, methods, model, patches, right_reason, sanity, slides, stain
from reportgen.judgement.check import Check, Finding
from reportgen.schema import ReportDocument


@dataclass(frozen=True)
class FlagGate:
    """The ``--fail-if`` gates without an operator that read a section's checks naming ``stem``:
    ``<stem>_failed`` fails the run when any of them FAILs, ``<stem>_not_passed`` also when any is
    INCONCLUSIVE (for teams that want proof, not only the absence of a failure).

    ``claim`` says what the checks claim (for ``--help``); ``skipped`` is the detail when no check names it.
    """

    claim: str
    skipped: str


#: A flag gate's name -> whether an INCONCLUSIVE check holds it too (``_not_passed``) or only a FAIL (``_failed``).
GATE_SUFFIXES = {"_failed": False, "_not_passed": True}


def _nothing(document: ReportDocument) -> list:
    return []


@dataclass(frozen=True)
class Section:
    """One section of the report.

    Attributes
    ----------
    key : its record's key in ``report.json`` ("" for a section that only presents other records).
    anchor, title : its HTML anchor and its line in the contents; its partial is
        ``templates/sections/<anchor>.html.j2`` (:mod:`reportgen.report.sections`).
    checks : document -> its page-one checks.
    findings : document -> its warnings.
    gates : the stem its checks name (:attr:`Check.gate`) -> :class:`FlagGate`, for the gates that read them.
    record : the build's results (:class:`reportgen.pipeline.document.BuildRecord`) -> its record in
        ``report.json``, for a section whose record is not made by the document producer itself.
    """

    key: str
    anchor: str
    title: str
    checks: Callable[[ReportDocument], list[Check]] = _nothing
    findings: Callable[[ReportDocument], list[Finding]] = _nothing
    gates: dict[str, FlagGate] = field(default_factory=dict)
    record: Callable[[Any], Any] | None = None


_SECTIONS: list[Section] = [
    Section("summary", "summary", "Summary"),
    Section("gates", "gates", "Gates"),
    Section("comparison", "changes", "Changes since the previous report"),
    Section("model", "model", "Model card", checks=model.checks, findings=model.findings,
            gates={"accuracy": FlagGate("the model's validation accuracy is at least its limit",
                                        "skipped: the report has no accuracy"),
                   "calibration": FlagGate("the model's expected calibration error is at most its limit",
                                           "skipped: the report has no calibration error")}),
    Section("data", "data", "Data"),
    Section("methods", "methods", "Methods and settings", findings=methods.findings),
    Section("verdicts", "faithfulness", "Faithfulness", checks=faithfulness.checks, findings=faithfulness.findings,
            gates={"beats_random": FlagGate("every method is better than the random map by its primary claims",
                                            "skipped: no method was scored")}),
    Section("substrate_scope", "substrates", "Substrates"),
    Section("agreement", "agreement", "Agreement"),
    Section("localisation", "localisation", "Localisation", checks=localisation.checks,
            findings=localisation.findings,
            gates={"centre_mass": FlagGate("every method puts at least a uniform map's share of its attribution in "
                                           "the centre 32x32", "skipped: the report has no centre mass")}),
    Section("evidence", "evidence", "Right for the right reason", checks=right_reason.checks,
            findings=right_reason.findings,
            gates={"right_reason": FlagGate("the model's tumour calls survive replacing the periphery",
                                            "skipped: the right-for-the-right-reason test did not run")}),
    Section("slides", "slides", "Slides", checks=slides.checks,
            gates={"slides": FlagGate("the model's accuracy is at least its limit on every slide with enough "
                                      "patches", "skipped: the data have no slide ids")}),
    Section("sanity", "sanity", "Sanity checks", checks=sanity.checks, findings=sanity.findings,
            gates={"sanity": FlagGate("every method's maps depend on the model, and the check's control fails",
                                      "skipped: no sanity check was run")}),
    Section("stability", "stability", "Stability of the explanations"),
    Section("stain_robustness", "stain", "Stain robustness", checks=stain.checks, findings=stain.findings,
            gates={"stain": FlagGate("the model's decision holds under stain changes and every method explains "
                                     "the decision, not the stain", "skipped: the stain robustness step did not run")}),
    Section("images", "patches", "Explained patches", findings=patches.findings),
    Section("", "limitations", "Limitations"),
    Section("provenance", "reproducibility", "Reproducibility"),
    Section("", "appendix", "Appendix: settings and records as stored"),
]


def sections() -> tuple[Section, ...]:
    """Every section, in report order."""
    return tuple(_SECTIONS)


def register_section(section: Section, *, before: str | None = None) -> Section:
    """Add a section (before the one whose anchor is ``before``, else last); anchors and gates are unique."""
    if any(existing.anchor == section.anchor for existing in _SECTIONS):
        raise ValueError(f"a report section with anchor {section.anchor!r} is already registered")
    taken = {stem for stem, _, _ in flag_gates().values()}
    if taken & set(section.gates):
        raise ValueError(f"gate {sorted(taken & set(section.gates))[0]!r} is already declared by another section")
    anchors = [existing.anchor for existing in _SECTIONS]
    _SECTIONS.insert(anchors.index(before) if before in anchors else len(_SECTIONS), section)
    return section


def unregister_section(anchor: str) -> None:
    """Remove the section with ``anchor`` (for a section registered by a test or a plugin's teardown)."""
    _SECTIONS[:] = [section for section in _SECTIONS if section.anchor != anchor]


def flag_gates() -> dict[str, tuple[str, bool, FlagGate]]:
    """Every flag gate the sections declare, in report order: name -> (the stem its checks name, whether an
    INCONCLUSIVE holds it, its :class:`FlagGate`)."""
    return {stem + suffix: (stem, strict, gate) for section in _SECTIONS for stem, gate in section.gates.items()
            for suffix, strict in GATE_SUFFIXES.items()}


def gate_stems() -> list[str]:
    """The stems of every flag gate, in report order (``accuracy``, ``sanity``, ...)."""
    return list(dict.fromkeys(stem for stem, _, _ in flag_gates().values()))


def all_checks(document: ReportDocument) -> list[Check]:
    """Every section's checks, in report order (not yet sorted by outcome)."""
    return [check for section in _SECTIONS for check in section.checks(document)]


def all_findings(document: ReportDocument) -> list[Finding]:
    """Every section's warnings, in report order (not yet sorted by severity)."""
    return [finding for section in _SECTIONS for finding in section.findings(document)]
