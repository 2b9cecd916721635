"""The "Faithfulness" section's views: deletion, insertion and SRG per method and reference map, the verdict
table, the informative patches, the mean curves and what the intervals resample (its checks:
:mod:`reportgen.judgement.faithfulness`)."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.formatting import fmt_any, fmt_interval, fmt_p, fmt_signed
from reportgen.judgement.reading import (
    DIRECTIONS,
    OUTCOME_WORDS,
    SHORT_LABELS,
    find_verdict,
    headline_mean,
    method_title,
)
from reportgen.report import figures as figs
from reportgen.schema import ReportDocument


@dataclass(frozen=True)
class FaithfulnessRow:
    """Deletion/insertion AUC of one method or reference map."""

    title: str
    reference: str
    is_reference_map: bool
    deletion: str
    insertion: str
    srg: str
    against_random: str


@dataclass(frozen=True)
class VerdictRow:
    """One claim under the verdict rule: a method against a reference map or another method."""

    family: str
    metric: str
    method: str
    against: str
    patches: int
    slides: str
    median_difference: str
    p_value: str
    p_holm: str
    outcome: str
    decided: bool


#: The verdict table's short name of each claimed metric, by its key.
VERDICT_METRIC_LABELS = {key: SHORT_LABELS[kind] for kind, (key, _) in DIRECTIONS.items()}


def faithfulness_rows(document: ReportDocument) -> list[FaithfulnessRow]:
    """One row per method, then per reference map: headline means and the verdicts against the random map."""
    rows = []
    for group, is_reference in ((document.methods, False), (document.baselines, True)):
        for name, record in group.items():
            against_random = []
            for kind, (key, _) in DIRECTIONS.items():
                verdict = None if is_reference else find_verdict(document, name, "random", key)
                if verdict is not None:
                    against_random.append(f"{SHORT_LABELS[kind]}: "
                                          f"{OUTCOME_WORDS.get(verdict.outcome, verdict.outcome)}")
            rows.append(FaithfulnessRow(
                # A reference map has no paper to cite.
                title=method_title(document, name), reference="" if is_reference else str(record.reference),
                is_reference_map=is_reference, deletion=fmt_interval(headline_mean(record, "deletion_auc")),
                insertion=fmt_interval(headline_mean(record, "insertion_auc")),
                srg=fmt_interval(headline_mean(record, "srg")), against_random=", ".join(against_random)))
    return rows


def verdict_rows(document: ReportDocument) -> list[VerdictRow]:
    """One row per claim of the document's ``verdicts``, the primary family first, each family in its order."""
    rows = []
    for verdict in sorted(document.verdicts, key=lambda v: v.family != "primary"):
        low, high = verdict.ci95 or [None, None]
        difference = fmt_signed(verdict.median_difference)
        if low is not None and high is not None:
            difference += f" [{fmt_signed(low)}, {fmt_signed(high)}]"
        family = verdict.family or ""
        level = verdict.level
        rows.append(VerdictRow(family=f"{family} ({level:.2g})" if family and level is not None else family,
                               metric=VERDICT_METRIC_LABELS.get(verdict.metric, str(verdict.metric)),
                               method=method_title(document, verdict.method),
                               against=method_title(document, verdict.against),
                               patches=len(verdict.patches), slides=fmt_any(verdict.slides),
                               median_difference=difference,
                               p_value=fmt_p(verdict.p), p_holm=fmt_p(verdict.p_holm),
                               outcome=OUTCOME_WORDS.get(verdict.outcome, str(verdict.outcome)),
                               decided=verdict.outcome in ("better", "worse")))
    return rows


def informative_rows(document: ReportDocument) -> list[tuple[str, str]]:
    """(metric, "n of N (per stratum)") of the patches that can tell maps apart, for deletion and insertion."""
    rows = []
    for kind, counts in (("Deletion", document.informative.deletion), ("Insertion", document.informative.insertion)):
        strata = ", ".join(f"{s} {n}" for s, n in counts.by_stratum.items())
        rows.append((kind, f"{counts.count} of {counts.of} ({strata})"))
    return rows


def curve_uris(document: ReportDocument) -> tuple[str | None, str | None]:
    """Data URIs of the mean deletion and the mean insertion curves, methods and reference maps in one plot each
    (``None`` when the document has no method)."""
    uris = []
    for kind, label, xlabel in (("deletion", "Deletion (lower AUC is better)", "fraction of pixels deleted"),
                                ("insertion", "Insertion (higher AUC is better)", "fraction of pixels restored")):
        key = f"{kind}_mean"  # the field of MeanCurves
        curves = {method_title(document, name): getattr(record.curves, key) for name, record in document.methods.items()}
        references = {method_title(document, name): getattr(record.curves, key)
                      for name, record in document.baselines.items()}
        uris.append(figs.curves_uri(curves, references=references, xlabel=xlabel,
                                    ylabel="probability of the tracked class", title=label) if curves else None)
    return uris[0], uris[1]


def uncertainty_text(document: ReportDocument) -> str:
    """What intervals and tests resample, with the number of slides."""
    uncertainty = document.settings.uncertainty
    text = str(uncertainty.rule)
    if uncertainty.unit == "slide":
        text += f" The {len(document.images)} explained patches come from {uncertainty.slides} slides."
    return text
