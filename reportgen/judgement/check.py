"""A check and a warning: the two kinds of judgement a report section declares.

A :class:`Check` is one row of page one.  It holds the claim it asserts when it
passes, what was measured, the outcome, the section with the evidence, and the
``--fail-if`` gate that reads it; the page-one row, the gate and the summary all
read this one object (Deepchecks' ``ConditionResult`` is the model).  A
:class:`Finding` is one warning a reader must see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reportgen.judgement.rule import INCONCLUSIVE, OUTCOMES, interval_outcome, units_to_decide
from reportgen.schema import Check as CheckRecord

#: Warning severities, most serious first, and what each means to the reader.
SEVERITIES = {
    "high": "a claim of this report fails or cannot be trusted",
    "medium": "limits what a claim means",
    "low": "for information",
}

#: The columns of page one's table of the explanations' checks: a method check's ``column`` -> its heading.
METHOD_COLUMNS = {"faithfulness": "Faithful to the model", "sanity": "Depends on the model",
                  "stain": "Explains the decision, not the stain", "centre": "Attribution in the centre"}


@dataclass(frozen=True)
class Check:
    """One check of the report, decided by the one rule of :mod:`reportgen.judgement.rule`.

    Attributes
    ----------
    name : the row's title, e.g. "Validation accuracy".
    claim : what holds when the check passes, with its limit (the row's "condition").
    measured : the measurement as the row shows it, with its interval and its number of units.
    outcome : one of :data:`~reportgen.judgement.rule.OUTCOMES`.
    section : the anchor of the report section that holds the evidence.
    gate : the stem of the ``--fail-if`` flag gates that read this check (``<gate>_failed`` fails the run on a
        FAIL, ``<gate>_not_passed`` on a FAIL or an INCONCLUSIVE), or ``None``.
    method : the method the check is about, or ``None`` for the model or the run.
    column : for a method's check, its column of page one's table (a key of :data:`METHOD_COLUMNS`).
    decide : for an INCONCLUSIVE check, what would decide it (e.g. "explain about 80 patches: --images 80").
    value, interval, limit, direction : the measurement behind the outcome where it is one number with a 95 %
        interval (``direction`` a key of :data:`~reportgen.judgement.rule.DIRECTIONS`); ``None`` where the
        outcome is read from tests instead.
    """

    name: str
    claim: str
    measured: str
    outcome: str
    section: str
    gate: str | None = None
    method: str | None = None
    column: str | None = None
    decide: str = ""
    value: float | None = None
    interval: tuple[float | None, float | None] | None = None
    limit: float | None = None
    direction: str | None = None

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError(f"check outcome {self.outcome!r} is not one of {', '.join(OUTCOMES)}")
        if self.column is not None and self.column not in METHOD_COLUMNS:
            raise ValueError(f"check column {self.column!r} is not one of {', '.join(METHOD_COLUMNS)}")

    def row(self) -> dict:
        """Page one's row as report.json stores it (``summary.checks``)."""
        return {"check": self.name, "condition": self.claim, "measured": self.measured, "outcome": self.outcome,
                "section": self.section, "decide": self.decide, "gate": self.gate, "method": self.method,
                "column": self.column, "value": self.value,
                "interval": None if self.interval is None else list(self.interval), "limit": self.limit,
                "direction": self.direction}


def interval_check(name: str, claim: str, measured: str, section: str, *, value, interval, limit: float,
                   direction: str, units: int, more: Callable[[int], str], **fields) -> Check:
    """A check decided by its interval against its limit (:func:`~reportgen.judgement.rule.interval_outcome`).

    ``units`` is how many units the interval rests on, and ``more(k)`` says how to get about ``k`` of them
    (e.g. ``lambda k: f"about {k} slides"``), which an INCONCLUSIVE check states as what would decide it.
    """
    interval = None if interval is None else (interval[0], interval[1])
    outcome = interval_outcome(interval, limit, direction)
    decide = ""
    if outcome == INCONCLUSIVE:
        needed = units_to_decide(value, interval, limit, units)
        decide = (more(needed) if needed is not None
                  else "the estimate sits on the limit or has no interval: more data alone may not decide it")
        if needed is not None and needed > 10 * units:
            # So many more units that the figure alone would look like a typo: say why.
            decide += f" (the estimate lies only {abs(float(value) - limit):.2g} from the limit)"
    return Check(name, claim, measured, outcome, section, decide=decide,
                 value=None if value is None else float(value), interval=interval, limit=limit, direction=direction,
                 **fields)


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
    """Failures first, then inconclusive checks, then passes; each group in the order given."""
    return sorted(checks, key=lambda check: OUTCOMES.index(check.outcome))


def by_severity(findings: list[Finding]) -> list[Finding]:
    """Most serious first; each severity in the order given."""
    rank = list(SEVERITIES)
    return sorted(findings, key=lambda finding: rank.index(finding.severity))


def outcome_counts(rows: list[CheckRecord | dict]) -> dict[str, int]:
    """outcome -> how many of page one's rows have it, for every outcome.

    ``rows`` are the records of a document's ``summary.checks``, or the plain rows :meth:`Check.row` writes
    (:func:`reportgen.judgement.summary.page_one` counts those before they are in a document).
    """
    outcomes = [CheckRecord.from_json(row).outcome for row in rows]
    return {outcome: outcomes.count(outcome) for outcome in OUTCOMES}
