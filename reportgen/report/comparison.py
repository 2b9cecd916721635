"""The "Changes since the previous report" section's view, from the document's ``comparison`` record
(decided in :mod:`reportgen.judgement.compare`)."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.formatting import MISSING, fmt, fmt_any, fmt_interval, fmt_signed
from reportgen.judgement.reading import method_title
from reportgen.metrics.localisation import UNIFORM_CENTRE_MASS
from reportgen.schema import ReportDocument


@dataclass(frozen=True)
class MethodChangeRow:
    """One method's AUCs now and in the previous report."""

    title: str
    status: str
    deletion_previous: str
    deletion_current: str
    deletion_change: str
    insertion_previous: str
    insertion_current: str
    insertion_change: str


@dataclass(frozen=True)
class ComparisonView:
    """Changes since the previous report."""

    previous: str
    note: str | None
    #: (check, outcome before, outcome now) for every page-one check whose outcome changed, failures now first.
    outcomes: list[tuple[str, str, str]]
    model: str
    accuracy: str
    methods: list[MethodChangeRow]
    #: (whose: a method's title or "Model", what, before, now, change)
    evidence: list[tuple[str, str, str, str, str]]
    uniform_centre: str
    shared_patches: str
    patches: list[tuple[str, str, str, str, str, str]]
    new_warnings: list[str]
    resolved_warnings: list[str]


def comparison_view(document: ReportDocument) -> ComparisonView | None:
    """The section's tables, or ``None`` without a previous report."""
    comparison = document.comparison
    if not comparison:
        return None
    model = comparison.get("model") or {}
    model_text = ("changed: " if model.get("changed") else "unchanged: ") + (
        f"{fmt_any(model.get('previous_sha256'))} -> {fmt_any(model.get('current_sha256'))}"
        if model.get("changed") else fmt_any(model.get("current_sha256")))
    accuracy = comparison.get("accuracy") or {}
    methods = []
    for row in comparison.get("methods") or []:
        deletion, insertion = row.get("deletion_auc") or {}, row.get("insertion_auc") or {}
        methods.append(MethodChangeRow(
            title=str(row.get("title", row.get("name"))), status=str(row.get("status", "")),
            deletion_previous=fmt_interval(deletion.get("previous")), deletion_current=fmt_interval(deletion.get("current")),
            deletion_change=fmt_signed(deletion.get("change")),
            insertion_previous=fmt_interval(insertion.get("previous")),
            insertion_current=fmt_interval(insertion.get("current")), insertion_change=fmt_signed(insertion.get("change"))))
    patches = [(str(row["patch_id"]), method_title(document, row["method"]), row["metric"].replace("_", " "),
                fmt(row["previous"]), fmt(row["current"]), fmt_signed(row["change"]))
               for row in (comparison.get("patches") or [])[:20]]
    evidence = [(str(row["title"]), str(row["label"]), fmt(row["previous"]), fmt(row["current"]),
                 fmt_signed(row["change"])) for row in comparison.get("evidence") or []]
    return ComparisonView(
        previous=f"{comparison.get('previous_title') or MISSING} ({comparison.get('previous_generated_at') or MISSING})",
        note=comparison.get("note"), model=model_text,
        outcomes=[(str(row["check"]), str(row["previous"] or "not in the report").upper(),
                   str(row["current"] or "not in the report").upper()) for row in comparison.get("outcomes") or []],
        accuracy=f"{fmt(accuracy.get('previous'))} -> {fmt(accuracy.get('current'))} ({fmt_signed(accuracy.get('change'))})",
        methods=methods, evidence=evidence, uniform_centre=fmt(UNIFORM_CENTRE_MASS),
        shared_patches=fmt_any(comparison.get("shared_patches")), patches=patches,
        new_warnings=list(comparison.get("new_warnings") or []),
        resolved_warnings=list(comparison.get("resolved_warnings") or []))
