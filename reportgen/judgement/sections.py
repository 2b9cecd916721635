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
from reportgen.metrics.localisation import UNIFORM_CENTRE_MASS


@dataclass(frozen=True)
class FlagGate:
    """A ``--fail-if`` gate without an operator: it fails the run when any check that names it holds its
    failure condition (:attr:`Check.gate_holds`).

    ``held`` and ``clear`` are the detail when it holds and when it does not, with ``{}`` for the checks'
    ``gate_details`` joined by ``separator``; ``skipped`` is the detail when no check names it.
    """

    description: str
    held: str
    clear: str
    skipped: str
    separator: str = ", "


def _nothing(document: dict) -> list:
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
    gates : flag gate name -> :class:`FlagGate`, for gates that read its checks.
    record : the build's results (:class:`reportgen.pipeline.document.BuildRecord`) -> its record in
        ``report.json``, for a section whose record is not made by the document producer itself.
    """

    key: str
    anchor: str
    title: str
    checks: Callable[[dict], list[Check]] = _nothing
    findings: Callable[[dict], list[Finding]] = _nothing
    gates: dict[str, FlagGate] = field(default_factory=dict)
    record: Callable[[Any], Any] | None = None


_SECTIONS: list[Section] = [
    Section("summary", "summary", "Summary"),
    Section("gates", "gates", "Gates"),
    Section("comparison", "changes", "Changes since the previous report"),
    Section("model", "model", "Model card", checks=model.checks, findings=model.findings),
    Section("data", "data", "Data"),
    Section("methods", "methods", "Methods and settings", findings=methods.findings),
    Section("verdicts", "faithfulness", "Faithfulness", checks=faithfulness.checks, findings=faithfulness.findings,
            gates={"beats_random_failed": FlagGate(
                "any method is not better than the random map (verdict rule)",
                held="not better than random under the verdict rule: {}", clear="every method is better than random",
                skipped="every method is better than random")}),
    Section("substrate_scope", "substrates", "Substrates"),
    Section("agreement", "agreement", "Agreement"),
    Section("localisation", "localisation", "Localisation", checks=localisation.checks,
            findings=localisation.findings,
            gates={"centre_mass_below_uniform": FlagGate(
                "any method puts less of its attribution in the centre 32x32 than a uniform map does",
                held=f"below a uniform map's {UNIFORM_CENTRE_MASS:.3f}: {{}}",
                clear=f"every method at least a uniform map's {UNIFORM_CENTRE_MASS:.3f}",
                skipped="skipped: the report has no centre mass")}),
    Section("evidence", "evidence", "Right for the right reason", checks=right_reason.checks,
            findings=right_reason.findings,
            gates={"right_reason_failed": FlagGate(
                "the model's tumour calls rely on the periphery", held="{}", clear="{}",
                skipped="skipped: the right-for-the-right-reason test did not run")}),
    Section("slides", "slides", "Slides", checks=slides.checks),
    Section("sanity", "sanity", "Sanity checks", checks=sanity.checks, findings=sanity.findings,
            gates={"sanity_failed": FlagGate(
                "any method did not pass the sanity check (failed or inconclusive), or its positive control did not "
                "fail", held="not passed: {}", clear="every method passed", skipped="skipped: no sanity check was run")}),
    Section("stability", "stability", "Stability of the explanations"),
    Section("stain_robustness", "stain", "Stain robustness", checks=stain.checks, findings=stain.findings,
            gates={"stain_failed": FlagGate(
                "the model's decision depends on the stain, or a method explains the stain instead of the decision",
                held="{}", clear="decision and maps hold under the stain checks",
                skipped="skipped: the stain robustness step did not run", separator="; ")}),
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
    taken = set(flag_gates())
    if taken & set(section.gates):
        raise ValueError(f"gate {sorted(taken & set(section.gates))[0]!r} is already declared by another section")
    anchors = [existing.anchor for existing in _SECTIONS]
    _SECTIONS.insert(anchors.index(before) if before in anchors else len(_SECTIONS), section)
    return section


def unregister_section(anchor: str) -> None:
    """Remove the section with ``anchor`` (for a section registered by a test or a plugin's teardown)."""
    _SECTIONS[:] = [section for section in _SECTIONS if section.anchor != anchor]


def flag_gates() -> dict[str, FlagGate]:
    """Every flag gate the sections declare, in report order."""
    return {name: gate for section in _SECTIONS for name, gate in section.gates.items()}


def all_checks(document: dict) -> list[Check]:
    """Every section's checks, in report order (not yet sorted by outcome)."""
    return [check for section in _SECTIONS for check in section.checks(document)]


def all_findings(document: dict) -> list[Finding]:
    """Every section's warnings, in report order (not yet sorted by severity)."""
    return [finding for section in _SECTIONS for finding in section.findings(document)]
