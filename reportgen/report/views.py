"""What the template reads: :class:`ReportContext`, and the views of page one (its checks, the summary's
warnings, the gates).

Built by :func:`reportgen.report.context.build_context`; nothing here formats or
computes.  Each section's view is a frozen dataclass of strings, lists of strings
and smaller views, defined beside the function that builds it, in the section's
module of :mod:`reportgen.report` (``model_card``, ``methods``, ``faithfulness``,
``substrates``, ``agreement``, ``evidence``, ``slides``, ``sanity``, ``stability``,
``stain``, ``gallery``, ``reproducibility``, ``comparison``, ``appendix``).
"""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.report.agreement import MatrixView
from reportgen.report.appendix import AppendixView
from reportgen.report.comparison import ComparisonView
from reportgen.report.evidence import EvidenceView
from reportgen.report.faithfulness import FaithfulnessRow, VerdictRow
from reportgen.report.gallery import GalleryView, PatchPanel
from reportgen.report.methods import MethodSettingsView
from reportgen.report.model_card import DataView, ModelCard
from reportgen.report.reproducibility import ProvenanceView
from reportgen.report.sanity import SanityView
from reportgen.report.slides import SlidesView
from reportgen.report.stability import StabilityView
from reportgen.report.stain import StainView


@dataclass(frozen=True)
class WarningView:
    """One warning: its label in the summary list ("W1"), severity and text."""

    label: str
    severity: str
    text: str


@dataclass(frozen=True)
class CheckRow:
    """One row of page one's check table; ``section`` is the anchor of its evidence, ``decide`` what would decide
    an inconclusive check."""

    outcome: str
    check: str
    condition: str
    measured: str
    section: str
    decide: str = ""


@dataclass(frozen=True)
class MethodChecks:
    """One method's row of page one's table of the explanations' checks: per column (``columns`` of the
    context) its check, or ``None`` where the check did not run."""

    title: str
    cells: list[CheckRow | None]


@dataclass(frozen=True)
class GateView:
    """One gate's result."""

    expression: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class ReportContext:
    """All the template reads; every field is a string, a list of them, or a small view."""

    title: str
    generated_at: str
    identity: list[tuple[str, str]]
    synthetic_notice: str | None
    data_has_masks: bool
    sign_off: list[tuple[str, str]]
    checks: list[CheckRow]
    check_counts: str
    #: Page one's explanations table: its column headings, and one row per method.
    method_columns: list[str]
    method_checks: list[MethodChecks]
    #: Every check in the order of its outcome, failures first, for the appendix of page one's rows.
    outcomes: list[str]
    #: (term, what it means) for deletion, insertion and the reference maps, and one curve to show it.
    reading_guide: list[tuple[str, str]]
    guide_uri: str | None
    findings: list[str]
    warnings: list[WarningView]
    severities: list[tuple[str, str]]
    model: ModelCard
    data: DataView
    run_settings: list[tuple[str, str]]
    method_settings: list[MethodSettingsView]
    provenance: ProvenanceView
    faithfulness: list[FaithfulnessRow]
    deletion_curves_uri: str | None
    insertion_curves_uri: str | None
    faithfulness_notes: list[str]
    verdicts: list[VerdictRow]
    #: The outcomes the verdict table's rows carry, in the order of :data:`OUTCOME_WORDS`, for its filter.
    verdict_outcomes: list[str]
    informative: list[tuple[str, str]]
    verdict_rule: str
    uncertainty: str
    substrate_drift: list[tuple[str, str, str, str]]
    substrate_rule: str
    substrate_rankings: list[tuple[str, str, str, str]]
    spearman: MatrixView | None
    iou: MatrixView | None
    localisation: list[tuple[str, str, str, str]]
    #: The share of a uniform map's attribution in the centre third of a patch (32x32 of 96), as the prose states it.
    uniform_centre: str
    #: The centre third named with its side, ``centre 32&times;32`` at 96 px (markup, not user input).
    centre_square: str
    #: The centre decides the label (PCam's rule, or a folder that states it).
    centre_decides: bool
    sanity: SanityView | None
    evidence: EvidenceView | None
    slides: SlidesView | None
    stability: StabilityView | None
    gallery: GalleryView
    stain: StainView | None
    patches: list[PatchPanel]
    #: Labels ("W3") of the summary's warnings about a method, pointed at from the maps.
    map_warnings: list[str]
    limitations: list[str]
    appendix: AppendixView
    comparison: ComparisonView | None
    gates: list[GateView] | None
