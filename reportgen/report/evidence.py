"""The "Right for the right reason" section's view, from ``document.evidence`` (its check and warning:
:mod:`reportgen.judgement.right_reason`)."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.formatting import MISSING, fmt, fmt_interval
from reportgen.judgement.reading import method_title, page_one_rows
from reportgen.schema import ReportDocument


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


def evidence_view(document: ReportDocument) -> EvidenceView | None:
    """The section's tables, or None when the test did not run."""
    evidence = document.evidence
    if evidence is None:
        return None
    where = f"{evidence.patches} evaluated patches" + ("" if evidence.slides is None
                                                       else f" from {evidence.slides} slides")
    rows = [(f"Tumour calls among {where}", str(evidence.tumour_calls)),
            ("Lost when the periphery is replaced", fmt_interval(evidence.lost_without_periphery, 2)),
            ("Kept when the centre 32x32 is replaced", fmt_interval(evidence.kept_without_centre, 2))]
    if evidence.periphery_only_negatives is not None:
        rows.append(("Normal patches with tumour only outside the centre",
                     f"{evidence.periphery_only_negatives}, of which the model calls "
                     f"{evidence.periphery_only_called_tumour} tumour"))
    methods = []
    for name, record in evidence.methods.items():
        periphery = record.periphery_hard_negative_calls
        methods.append((method_title(document, name), fmt_interval(record.centre_tp, 3),
                        MISSING if record.mask_tp is None else fmt_interval(record.mask_tp, 3),
                        fmt_interval(periphery, 3) if periphery is not None and periphery.n else MISSING))
    uniform_centre, uniform_mask = evidence.uniform_centre_share, evidence.uniform_mask_share_tp
    return EvidenceView(
        rule=evidence.rule,
        decision="; ".join(f"{row.outcome.upper()}{': ' + row.decide if row.decide else ''}"
                           for row in page_one_rows(document, "evidence")) or MISSING,
        rows=rows, methods=methods, uniform_centre=fmt(uniform_centre),
        uniform_periphery=fmt(1.0 - uniform_centre),
        uniform_mask=fmt(None if uniform_mask is None else uniform_mask.mean))
