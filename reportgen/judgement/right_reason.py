"""The right-for-the-right-reason section's judgement: are the model's tumour calls made by the centre 32x32?

The region-removal test is that of :mod:`reportgen.pipeline.evidence` (docs/metrics.md#right-for-the-right-reason);
``document.evidence`` holds it.  Its share of tumour calls lost without the periphery is decided by its 95 %
interval against :data:`~reportgen.metrics.evidence.PERIPHERY_FLIP_LIMIT` (:mod:`reportgen.judgement.rule`).
"""

from __future__ import annotations

from reportgen.formatting import fmt_interval
from reportgen.judgement.check import Check, Finding, interval_check
from reportgen.judgement.reading import more_evaluated, rate_units
from reportgen.judgement.rule import FAIL
from reportgen.schema import Evidence, ReportDocument


def lost_calls(evidence: Evidence) -> str:
    """"0.40 [0.20, 0.60] of 10 tumour calls lost": the region-removal test's measurement."""
    record = evidence.lost_without_periphery
    units, noun = rate_units(record)
    where = f" on {units} slides" if noun == "slides" else ""
    return f"{fmt_interval(record, 2)} of {evidence.tumour_calls} tumour calls lost{where}"


def checks(document: ReportDocument) -> list[Check]:
    """Page one's row for the region-removal test."""
    evidence = document.evidence
    if evidence is None:
        return []
    limit = evidence.limit
    condition = (f"at most {limit:g} of the tumour calls disappear when everything outside the centre 32x32 is "
                 f"replaced ({evidence.substrate} substrate)")
    record = evidence.lost_without_periphery
    units, noun = rate_units(record)
    return [interval_check("Model: tumour calls decided by the centre 32x32", condition, lost_calls(evidence),
                           "evidence", value=record.mean, interval=record.ci95, limit=limit,
                           direction="at_most", units=units, more=more_evaluated(f"{noun} with tumour calls"),
                           gate="right_reason")]


def findings(document: ReportDocument) -> list[Finding]:
    """The warning when the model's tumour calls rely on the periphery, read from its check."""
    evidence = document.evidence
    return [Finding("high", f"The model's evidence lies where the label says it must not: {lost_calls(evidence)} when "
                            f"everything outside the centre 32x32 is replaced by the {evidence.substrate} "
                            "substrate. PCam's label ignores the periphery, so these calls are made for a reason the "
                            "label does not allow.")
            for check in checks(document) if check.outcome == FAIL]
