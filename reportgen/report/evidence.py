"""The "Right for the right reason" section's view, from ``document["evidence"]`` (its check and warning:
:mod:`reportgen.judgement.right_reason`)."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.formatting import MISSING, fmt, fmt_interval
from reportgen.judgement.reading import method_title, page_one_rows


@dataclass(frozen=True)
class EvidenceView:
    """Right for the right reason: the region-removal test and where each method's attribution lies."""

    rule: str
    decision: str
    rows: list[tuple[str, str]]
    #: (method, centre share on TPs, mask share on TPs, periphery share on hard-negative tumour calls)
    methods: list[tuple[str, str, str, str]]
    uniform_centre: str
    uniform_periphery: str
    uniform_mask: str


def evidence_view(document: dict) -> EvidenceView | None:
    """The section's tables, or None when the test did not run."""
    evidence = document.get("evidence")
    if not evidence:
        return None
    kept = evidence.get("kept_without_centre") or {}
    patches = evidence.get("patches")
    where = ("the explained patches" if patches is None else f"{patches} evaluated patches"
             + ("" if evidence.get("slides") is None else f" from {evidence['slides']} slides"))
    rows = [(f"Tumour calls among {where}", str(evidence.get("tumour_calls"))),
            ("Lost when the periphery is replaced", fmt_interval(evidence.get("lost_without_periphery"), 2)),
            ("Kept when the centre 32x32 is replaced", fmt_interval(kept, 2))]
    if evidence.get("periphery_only_negatives") is not None:
        rows.append(("Normal patches with tumour only outside the centre",
                     f"{evidence['periphery_only_negatives']}, of which the model calls "
                     f"{evidence.get('periphery_only_called_tumour')} tumour"))
    uniform_mask = evidence.get("uniform_mask_share_tp")
    methods = []
    for name, record in (evidence.get("methods") or {}).items():
        methods.append((method_title(document, name), fmt_interval(record.get("centre_tp"), 3),
                        fmt_interval(record.get("mask_tp"), 3) if record.get("mask_tp") else MISSING,
                        fmt_interval(record.get("periphery_hard_negative_calls"), 3)
                        if (record.get("periphery_hard_negative_calls") or {}).get("n") else MISSING))
    uniform_centre = evidence.get("uniform_centre_share")
    rows_on_page_one = page_one_rows(document, "evidence")
    return EvidenceView(
        rule=str(evidence.get("rule", "")),
        decision="; ".join(f"{row['outcome'].upper()}{': ' + row['decide'] if row.get('decide') else ''}"
                           for row in rows_on_page_one) or MISSING,
        rows=rows, methods=methods, uniform_centre=fmt(uniform_centre),
        uniform_periphery=fmt(None if uniform_centre is None else 1.0 - uniform_centre),
        uniform_mask=fmt((uniform_mask or {}).get("mean")))
