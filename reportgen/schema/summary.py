"""The record of page one: the checks with their outcomes, the warnings and the findings."""

from __future__ import annotations

from typing import Any, TypedDict


class Check(TypedDict):
    """One row of page one's check table (:class:`reportgen.judgement.check.Check`)."""

    check: str
    condition: str
    measured: str
    outcome: str
    section: str


class WarningRecord(TypedDict):
    """One warning, its severity (``high``, ``medium`` or ``low``; :data:`reportgen.judgement.check.SEVERITIES`)
    and the method or reference map it is about (None when it is about the model or the run)."""

    severity: str
    text: str
    method: str | None


class Summary(TypedDict):
    """What page one says: the checks (failures first) and their counts per outcome, then the findings."""

    verdict: str
    findings: list[str]
    most_faithful: dict[str, dict[str, Any] | None]
    warnings: list[str]
    warning_records: list[WarningRecord]
    accuracy: float | None
    checks: list[Check]
    check_counts: dict[str, int]

