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


def faithfulness_rows(document: dict) -> list[FaithfulnessRow]:
    """One row per method, then per reference map: headline means and the verdicts against the random map."""
    rows = []
    for group, is_reference in (("methods", False), ("baselines", True)):
        for name, record in (document.get(group) or {}).items():
            against_random = []
            for kind, (key, _) in DIRECTIONS.items():
                verdict = None if is_reference else find_verdict(document, name, "random", key)
                if verdict is not None:
                    against_random.append(f"{SHORT_LABELS[kind]}: "
                                          f"{OUTCOME_WORDS.get(verdict['outcome'], verdict['outcome'])}")
            rows.append(FaithfulnessRow(
                title=method_title(document, name), reference=str(record.get("reference", "")),
                is_reference_map=is_reference, deletion=fmt_interval(headline_mean(record, "deletion_auc")),
                insertion=fmt_interval(headline_mean(record, "insertion_auc")),
                srg=fmt_interval(headline_mean(record, "srg")), against_random=", ".join(against_random)))
    return rows


def verdict_rows(document: dict) -> list[VerdictRow]:
    """One row per claim of the document's ``verdicts``, the primary family first, each family in its order."""
    rows = []
    verdicts = document.get("verdicts") or []
    for verdict in sorted(verdicts, key=lambda v: v.get("family") != "primary"):
        low, high = verdict.get("ci95") or [None, None]
        difference = fmt_signed(verdict.get("median_difference"))
        if low is not None and high is not None:
            difference += f" [{fmt_signed(low)}, {fmt_signed(high)}]"
        family = verdict.get("family") or ""
        level = verdict.get("level")
        rows.append(VerdictRow(family=f"{family} ({level:.2g})" if family and level is not None else family,
                               metric=VERDICT_METRIC_LABELS.get(verdict.get("metric"), str(verdict.get("metric"))),
                               method=method_title(document, verdict["method"]),
                               against=method_title(document, verdict["against"]),
                               patches=len(verdict.get("patches") or []), slides=fmt_any(verdict.get("slides")),
                               median_difference=difference,
                               p_value=fmt_p(verdict.get("p")), p_holm=fmt_p(verdict.get("p_holm")),
                               outcome=OUTCOME_WORDS.get(verdict.get("outcome"), str(verdict.get("outcome"))),
                               decided=verdict.get("outcome") in ("better", "worse")))
    return rows


def informative_rows(document: dict) -> list[tuple[str, str]]:
    """(metric, "n of N (per stratum)") of the patches that can tell maps apart, for deletion and insertion."""
    informative = document.get("informative") or {}
    rows = []
    for kind in ("deletion", "insertion"):
        counts = informative.get(kind)
        if counts:
            strata = ", ".join(f"{s} {n}" for s, n in (counts.get("by_stratum") or {}).items())
            rows.append((kind.capitalize(), f"{counts['count']} of {counts['of']} ({strata})"))
    return rows


def curve_uris(document: dict) -> tuple[str | None, str | None]:
    """Data URIs of the mean deletion and the mean insertion curves, methods and reference maps in one plot each
    (``None`` where no method has the curve)."""
    uris = []
    for kind, label, xlabel in (("deletion", "Deletion (lower AUC is better)", "fraction of pixels deleted"),
                                ("insertion", "Insertion (higher AUC is better)", "fraction of pixels restored")):
        key = f"{kind}_mean"
        curves = {method_title(document, name): record["curves"][key]
                  for name, record in (document.get("methods") or {}).items() if key in (record.get("curves") or {})}
        references = {method_title(document, name): record["curves"][key]
                      for name, record in (document.get("baselines") or {}).items()
                      if key in (record.get("curves") or {})}
        uris.append(figs.curves_uri(curves, references=references, xlabel=xlabel,
                                    ylabel="probability of the tracked class", title=label) if curves else None)
    return uris[0], uris[1]


def uncertainty_text(document: dict) -> str:
    """What intervals and tests resample, with the number of slides."""
    uncertainty = (document.get("settings") or {}).get("uncertainty") or {}
    text = str(uncertainty.get("rule", ""))
    if uncertainty.get("unit") == "slide":
        text += f" The {len(document.get('images') or [])} explained patches come from {uncertainty.get('slides')} slides."
    return text
