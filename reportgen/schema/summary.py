"""The record of page one: the checks with their outcomes, the warnings and the findings."""

from __future__ import annotations

from typing import Any

from reportgen.schema.record import Record, record


@record
class Check(Record):
    """One row of page one's check table (:class:`reportgen.judgement.check.Check`): its outcome (``pass``,
    ``inconclusive`` or ``fail``, by the rule of :mod:`reportgen.judgement.rule`), what would decide it when
    inconclusive, the gate stem that reads it, the method and the column of the explanations' table for a method's
    check, and the measurement, its 95 % interval, limit and direction where the outcome is read from one interval."""

    check: str
    condition: str
    measured: str
    outcome: str
    section: str
    decide: str
    gate: str | None
    method: str | None
    column: str | None
    value: float | None
    interval: list[float | None] | None
    limit: float | None
    direction: str | None


@record
class WarningRecord(Record):
    """One warning, its severity (``high``, ``medium`` or ``low``; :data:`reportgen.judgement.check.SEVERITIES`)
    and the method or reference map it is about (None when it is about the model or the run)."""

    severity: str
    text: str
    method: str | None


@record
class Summary(Record):
    """What page one says: the checks (failures first) and their counts per outcome, then the findings."""

    verdict: str
    findings: list[str]
    most_faithful: dict[str, dict[str, Any] | None]
    warnings: list[str]
    warning_records: list[WarningRecord]
    accuracy: float | None
    checks: list[Check]
    check_counts: dict[str, int]

