"""A check and a warning: the two kinds of judgement a report section declares.

A :class:`Check` is one row of page one.  It holds the claim it asserts when it
passes, what was measured, the outcome, the section with the evidence, and the
``--fail-if`` gate that reads it; the page-one row, the gate and the summary all
read this one object (Deepchecks' ``ConditionResult`` is the model).  A
:class:`Finding` is one warning a reader must see.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Page one's outcomes, in the order the table lists them: failures first.
OUTCOMES = ("fail", "warn", "pass")

#: Warning severities, most serious first, and what each means to the reader.
SEVERITIES = {
    "high": "a claim of this report fails or cannot be trusted",
    "medium": "limits what a claim means",
    "low": "for information",
}


@dataclass(frozen=True)
class Check:
    """One check of the report.

    Attributes
    ----------
    name : the row's title, e.g. "Validation accuracy".
    claim : what holds when the check passes, with its limit (the row's "condition").
    measured : the measurement as the row shows it, with its interval where it has one.
    outcome : one of :data:`OUTCOMES`.
    section : the anchor of the report section that holds the evidence.
    gate : the ``--fail-if`` flag gate that reads this check, or ``None``.
    gate_holds : whether that gate's failure condition holds on this check's evidence.
    gate_details : what the gate's detail says of this check (e.g. ``("grad_cam (deletion)",)``).
    method : the method or reference map the check is about, or ``None`` for the model or the run.
    value, interval, limit, direction : the measurement behind the outcome where it is one number
        (``direction``: ``"at_least"`` or ``"at_most"`` the limit to pass); ``None`` where the
        outcome is read from a test's decision instead.
    """

    name: str
    claim: str
    measured: str
    outcome: str
    section: str
    gate: str | None = None
    gate_holds: bool = False
    gate_details: tuple[str, ...] = ()
    method: str | None = None
    value: float | None = None
    interval: tuple[float | None, float | None] | None = None
    limit: float | None = None
    direction: str | None = None

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError(f"check outcome {self.outcome!r} is not one of {', '.join(OUTCOMES)}")

    def row(self) -> dict[str, str]:
        """Page one's row as report.json stores it (``summary.checks``)."""
        return {"check": self.name, "condition": self.claim, "measured": self.measured, "outcome": self.outcome,
                "section": self.section}


@dataclass(frozen=True)
class Finding:
    """One warning: its severity (a key of :data:`SEVERITIES`), its text, and the method or reference map it
    is about (``None`` when it is about the model or the run)."""

    severity: str
    text: str
    method: str | None = None

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"warning severity {self.severity!r} is not one of {', '.join(SEVERITIES)}")

    def record(self) -> dict[str, str | None]:
        """The warning as report.json stores it (``summary.warning_records``)."""
        return {"severity": self.severity, "text": self.text, "method": self.method}


def by_outcome(checks: list[Check]) -> list[Check]:
    """Failures first, then warnings, then passes; each group in the order given."""
    return sorted(checks, key=lambda check: OUTCOMES.index(check.outcome))


def by_severity(findings: list[Finding]) -> list[Finding]:
    """Most serious first; each severity in the order given."""
    rank = list(SEVERITIES)
    return sorted(findings, key=lambda finding: rank.index(finding.severity))


def outcome_counts(rows: list[dict]) -> dict[str, int]:
    """outcome -> how many of page one's rows have it, for every outcome."""
    return {outcome: sum(1 for row in rows if row["outcome"] == outcome) for outcome in OUTCOMES}
