"""The right-for-the-right-reason section's judgement: are the model's tumour calls made by the centre 32x32?

The region-removal test and its decision are those of :mod:`reportgen.pipeline.evidence`
(docs/metrics.md#right-for-the-right-reason); ``document["evidence"]`` holds them.
"""

from __future__ import annotations

from reportgen.formatting import fmt_interval
from reportgen.judgement.check import Check, Finding
from reportgen.judgement.reading import share
from reportgen.metrics.evidence import MIN_TUMOUR_CALLS, PERIPHERY_FLIP_LIMIT

_OUTCOMES = {"centre": "pass", "relies_on_periphery": "fail", "too_few": "warn"}


def lost_calls(evidence: dict) -> str:
    """"0.40 [0.20, 0.60] of 10 tumour calls lost": the region-removal test's measurement."""
    return f"{fmt_interval(evidence.get('lost_without_periphery'), 2)} of {evidence.get('tumour_calls')} tumour calls lost"


def checks(document: dict) -> list[Check]:
    """Page one's row for the region-removal test; the ``right_reason_failed`` gate holds when the calls rely on
    the periphery."""
    evidence = document.get("evidence")
    if not evidence:
        return []
    condition = (f"at most {evidence.get('limit', PERIPHERY_FLIP_LIMIT):g} of the tumour calls disappear when "
                 f"everything outside the centre 32x32 is replaced ({evidence.get('substrate')} substrate; at least "
                 f"{MIN_TUMOUR_CALLS} calls)")
    lost = (evidence.get("lost_without_periphery") or {}).get("mean")
    holds = evidence.get("decision") == "relies_on_periphery"
    interval = (evidence.get("lost_without_periphery") or {}).get("ci95") or [None, None]
    return [Check("Model: tumour calls decided by the centre 32x32", condition, lost_calls(evidence),
                  _OUTCOMES.get(evidence.get("decision"), "warn"), "evidence", gate="right_reason_failed",
                  gate_holds=holds,
                  gate_details=(f"{share(evidence.get('lost_without_periphery'))} of {evidence.get('tumour_calls')} "
                                f"tumour calls lost without the periphery "
                                f"(limit {evidence.get('limit')}): {evidence.get('decision')}",),
                  value=None if lost is None else float(lost), interval=(interval[0], interval[1]),
                  limit=evidence.get("limit", PERIPHERY_FLIP_LIMIT), direction="at_most")]


def findings(document: dict) -> list[Finding]:
    """The warning when the model's tumour calls rely on the periphery."""
    evidence = document.get("evidence")
    if not evidence or evidence.get("decision") != "relies_on_periphery":
        return []
    return [Finding("high", f"The model's evidence lies where the label says it must not: {lost_calls(evidence)} when "
                            f"everything outside the centre 32x32 is replaced by the {evidence['substrate']} "
                            "substrate. PCam's label ignores the periphery, so these calls are made for a reason the "
                            "label does not allow.")]
