"""Everything the template shows, as plain strings, built once from the report document.

Numbers are formatted here (with :mod:`reportgen.formatting`), so the
template only places strings and never computes; the result is a
:class:`reportgen.report.views.ReportContext`.  :func:`build_context` builds
page one (identity, checks, findings, warnings, sign-off) and the gates here,
and asks each section's module of :mod:`reportgen.report` for its view.  The
document is the JSON contract described in :mod:`reportgen.report`; optional
sections (``sanity``, ``comparison``, ``gates``, ``substrate_rankings`` ...)
become ``None`` or empty lists.
"""

from __future__ import annotations

from markupsafe import Markup

from reportgen.data.label_region import applies
from reportgen.formatting import file_name, fmt, fmt_any
from reportgen.judgement import faithfulness
from reportgen.judgement.check import METHOD_COLUMNS, SEVERITIES, outcome_counts
from reportgen.judgement.reading import OUTCOME_WORDS, centre_side, method_title, model_accuracy, patch_size
from reportgen.judgement.rule import FAIL, INCONCLUSIVE, OUTCOMES, PASS
from reportgen.metrics.localisation import uniform_centre_share
from reportgen.report import figures as figs
from reportgen.report.agreement import agreement_matrix, localisation_rows
from reportgen.report.appendix import build_appendix
from reportgen.report.comparison import comparison_view
from reportgen.report.evidence import evidence_view
from reportgen.report.faithfulness import (
    curve_uris,
    faithfulness_rows,
    informative_rows,
    uncertainty_text,
    verdict_rows,
)
from reportgen.report.gallery import gallery_view, patch_panels
from reportgen.report.guide import guide_uri, reading_guide
from reportgen.report.limitations import limitation_sentences
from reportgen.report.methods import method_settings_views, run_settings_rows
from reportgen.report.model_card import data_view, model_card_view
from reportgen.report.reproducibility import provenance_view
from reportgen.report.sanity import sanity_view
from reportgen.report.slides import slides_view
from reportgen.report.stability import stability_view
from reportgen.report.stain import stain_view
from reportgen.report.substrates import substrate_drift_rows, substrate_rankings
from reportgen.report.views import CheckRow, GateView, MethodChecks, ReportContext, WarningView
from reportgen.schema import Check as CheckRecord
from reportgen.schema import ReportDocument, Summary, WarningRecord

SIGN_OFF_LABELS = (("reviewer", "Reviewer"), ("role", "Role"), ("date", "Date"), ("decision", "Decision"))
SYNTHETIC_NOTICE = ("Synthetic data: these patches are generated, not tissue. This report checks that the audit "
                    "works; its numbers say nothing about how the model behaves on real slides.")
_COUNT_WORDS = ((FAIL, "failed"), (INCONCLUSIVE, "inconclusive"), (PASS, "passed"))


def _warnings(summary: Summary) -> tuple[list[WarningView], list[WarningRecord]]:
    """The summary's warnings as numbered views, and their records (a summary from before severities were
    recorded has texts only: they read as medium)."""
    records = summary.warning_records
    if records is None:
        records = [WarningRecord(severity="medium", text=str(text), method=None) for text in summary.warnings or []]
    views = [WarningView(label=f"W{number}", severity=str(record.severity), text=str(record.text))
             for number, record in enumerate(records, start=1)]
    return views, list(records)


def _identity(document: ReportDocument) -> list[tuple[str, str]]:
    """Page one's identity block: the model, its checkpoint file (name, never its local path), the data, the date."""
    model, data = document.model, document.data
    checkpoint = model.checkpoint
    uncertainty = document.settings.uncertainty
    explained = f"{len(document.images)} patches of the {fmt_any(data.split)} split"
    if uncertainty.slides is not None:
        explained += f", from {uncertainty.slides} slides"
    return [("Model", fmt_any(model.name)),
            ("Checkpoint", file_name(checkpoint.path)),
            ("SHA-256", fmt_any(checkpoint.sha256)),
            ("Data", "synthetic (the embedded demo set)" if data.source == "synthetic" else fmt_any(data.source)),
            ("Explained", explained),
            ("Generated", fmt_any(document.generated_at))]


def _row(check: CheckRecord) -> CheckRow:
    return CheckRow(outcome=str(check.outcome), check=str(check.check), condition=str(check.condition),
                    measured=str(check.measured), section=str(check.section), decide=str(check.decide or ""))


def _checks(document: ReportDocument) -> tuple[list[CheckRow], str, list[str], list[MethodChecks]]:
    """Page one's checks: the rows that are not a method's (the model's, the run's, the gates'), the counts,
    and the explanations' table (a method's checks, one column each)."""
    checks = document.summary.checks
    counts = outcome_counts(checks)
    rows = [_row(c) for c in checks if not c.column]
    columns = [column for column in METHOD_COLUMNS if any(c.column == column for c in checks)]
    checked = {c.method for c in checks if c.column and c.method}
    methods = [name for name in [*document.methods, *sorted(checked)] if name in checked]
    methods = list(dict.fromkeys(methods))
    cells = {(c.method, c.column): _row(c) for c in checks if c.column}
    table = [MethodChecks(title=method_title(document, name), cells=[cells.get((name, column)) for column in columns])
             for name in methods]
    return rows, ", ".join(f"{counts[key]} {word}" for key, word in _COUNT_WORDS), \
        [METHOD_COLUMNS[column] for column in columns], table


def build_context(document: ReportDocument, patch_uris: dict[int, dict[str, str]] | list[dict[str, str]],
                  scales: list[dict[str, figs.MapScale]] | None = None) -> ReportContext:
    """Turn a report document and per-patch image URIs into the template's context.

    Parameters
    ----------
    document : report document, schema_version 1, with ``summary`` filled
        (:func:`reportgen.judgement.summarise_findings`).
    patch_uris : per patch position, ``{"original": uri, "<method>": uri}`` (:func:`figures.patch_figures`); the
        gallery shows the patches of :func:`~reportgen.report.gallery.gallery_positions` that have them (a list
        counts as positions 0, 1, ...).
    scales : per patch, each method's colour scale (:func:`figures.map_scales`), shown under its map;
        ``None`` (default) shows no scales.

    Returns
    -------
    ReportContext
    """
    if isinstance(patch_uris, list):
        patch_uris = dict(enumerate(patch_uris))
    summary = document.summary
    deletion_uri, insertion_uri = curve_uris(document)
    gates = document.gates
    sanity = sanity_view(document)
    evidence = evidence_view(document)
    slides = slides_view(document)
    stability = stability_view(document)
    stain = stain_view(document)
    comparison = comparison_view(document)
    spearman, iou = agreement_matrix(document, "spearman"), agreement_matrix(document, "iou_top10")
    accuracy = model_accuracy(document)
    findings = [str(sentence) for sentence in summary.findings]
    if not findings and summary.verdict:
        findings = [str(summary.verdict)]
    if not findings and accuracy is not None:
        findings = [f"Validation accuracy {fmt(accuracy)}."]
    warnings, warning_records = _warnings(summary)
    checks, counts, method_columns, method_checks = _checks(document)
    verdicts = verdict_rows(document)
    return ReportContext(
        title=str(document.title), generated_at=str(document.generated_at),
        identity=_identity(document), checks=checks, check_counts=counts, method_columns=method_columns,
        method_checks=method_checks, outcomes=list(OUTCOMES),
        sign_off=[(label, str(getattr(document.sign_off, key) or "")) for key, label in SIGN_OFF_LABELS],
        data_has_masks=bool(document.data.has_masks),
        synthetic_notice=SYNTHETIC_NOTICE if document.data.source == "synthetic" else None,
        reading_guide=reading_guide(document), guide_uri=guide_uri(document),
        findings=findings, warnings=warnings, severities=list(SEVERITIES.items()),
        model=model_card_view(document), data=data_view(document),
        run_settings=run_settings_rows(document),
        method_settings=method_settings_views(document, warnings, warning_records), provenance=provenance_view(document),
        faithfulness=faithfulness_rows(document), deletion_curves_uri=deletion_uri, insertion_curves_uri=insertion_uri,
        faithfulness_notes=faithfulness.section_sentences(document),
        verdicts=verdicts, verdict_outcomes=[word for word in OUTCOME_WORDS.values()
                                             if any(row.outcome == word for row in verdicts)],
        informative=informative_rows(document),
        verdict_rule=str(document.informative.rule),
        uncertainty=uncertainty_text(document), substrate_drift=substrate_drift_rows(document),
        substrate_rule="" if document.substrate_scope is None else str(document.substrate_scope.rule),
        substrate_rankings=substrate_rankings(document), spearman=spearman, iou=iou,
        localisation=localisation_rows(document),
        uniform_centre=fmt(uniform_centre_share(patch_size(document))),
        centre_square=Markup(f"centre {centre_side(document)}&times;{centre_side(document)}"),
        centre_decides=applies(document.data.label_region),
        sanity=sanity, evidence=evidence, slides=slides, stability=stability, stain=stain,
        gallery=gallery_view(document, figs.colour_bar_uri(), figs.colour_bar_uri(colour_map=figs.SIGNED_COLOUR_MAP)),
        patches=patch_panels(document, patch_uris, scales),
        map_warnings=[view.label for view, record in zip(warnings, warning_records) if record.method],
        limitations=limitation_sentences(document), appendix=build_appendix(document), comparison=comparison,
        gates=None if gates is None else [GateView(expression=str(g["expression"]), passed=bool(g["passed"]),
                                                    detail=str(g.get("detail", ""))) for g in gates])
