"""Gates for scheduled runs: conditions under which a run fails after writing its report.

A gate is written as a *failure condition* (``--fail-if accuracy<0.9``).  Grammar::

    gate      := name [operator number]
    operator  := "<" | "<=" | ">" | ">="
    name      := "accuracy" | "roc_auc"
               | "slide_accuracy"            the lowest accuracy on a slide with enough evaluated patches
                                             (:data:`reportgen.judgement.slides.MIN_SLIDE_PATCHES`)
               | "stain_flip_rate"           the model's largest prediction flip rate under the stain conditions
                                             its page-one check reads (HED strong)
               | "periphery_reliance"        the share of tumour calls lost when the periphery is replaced
               | "deletion_auc_increase"     any method's deletion AUC rose by more than the value
               | "insertion_auc_decrease"    any method's insertion AUC fell by more than the value
               | "centre_mass_decrease"      any method's share of attribution in the centre 32x32 fell by more
               | "mass_in_mask_decrease"     any method's share of attribution in the tumour mask fell by more
               | "periphery_reliance_increase"  the share of tumour calls lost without the periphery rose by more
               | a flag gate (no operator) declared by a report section: ``<stem>_failed`` fails the run when a
                 page-one check of that stem FAILs, ``<stem>_not_passed`` also when one is INCONCLUSIVE;
                 ``reportgen build --help`` and :func:`reportgen.judgement.sections.flag_gates` list them
                 (e.g. sanity_failed, beats_random_not_passed, right_reason_not_passed)
               | "method:" method "." metric  metric is deletion_auc, insertion_auc, centre_mass or mass_in_mask

Spaces are ignored.  The ``..._increase`` and ``..._decrease`` gates read
``document.comparison`` (:func:`reportgen.judgement.compare.compare_reports`); without
a previous report they are skipped and pass, and their detail says so.  So is any
gate whose measurement the report does not hold (e.g. ``stain_flip_rate`` with
``--stain-images 0``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from reportgen.errors import ConfigError, unknown_name_error
from reportgen.judgement.check import Check
from reportgen.judgement.measures import METHOD_MEASURES, MODEL_MEASURES, method_measure, model_measure
from reportgen.judgement.reading import model_accuracy
from reportgen.judgement.rule import FAIL, INCONCLUSIVE
from reportgen.judgement.sections import all_checks, flag_gates
from reportgen.schema import ReportDocument

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
}
#: Gates on a change since the previous report -> (the comparison list and key it reads, the sign that makes
#: a worsening positive, the verb for the detail).  AUC changes are read from ``comparison["methods"]``,
#: the evidence's from ``comparison["evidence"]`` (:func:`reportgen.judgement.compare.compare_evidence`).
CHANGE_GATES = {
    "deletion_auc_increase": ("methods", "deletion_auc", 1.0, "rose"),
    "insertion_auc_decrease": ("methods", "insertion_auc", -1.0, "fell"),
    "centre_mass_decrease": ("evidence", "centre_mass", -1.0, "fell"),
    "mass_in_mask_decrease": ("evidence", "mass_in_mask", -1.0, "fell"),
    "periphery_reliance_increase": ("evidence", "periphery_reliance", 1.0, "rose"),
}
NUMERIC_GATES = ("accuracy", "roc_auc", *MODEL_MEASURES, *CHANGE_GATES)
METHOD_METRICS = ("deletion_auc", "insertion_auc", *METHOD_MEASURES)
_PATTERN = re.compile(r"^(?P<name>[A-Za-z_][\w:.\-]*)(?:(?P<op><=|>=|<|>)(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))?$")


#: Gates of earlier versions -> the gate that reads the same check now (a scheduled run's command line is told).
RENAMED_GATES = {"centre_mass_below_uniform": "centre_mass_failed"}


def valid_gates() -> list[str]:
    """Every gate name, the flag gates of the registered sections included."""
    return [*NUMERIC_GATES, *flag_gates(), "method:<name>.<metric>"]


@dataclass(frozen=True)
class Gate:
    """One parsed gate.

    Attributes
    ----------
    expression : the text as written (spaces removed).
    name : gate name (``"method"`` for ``method:<name>.<metric>``).
    operator : comparison operator, or ``None`` for flag gates.
    threshold : number to compare with, or ``None`` for flag gates.
    method, metric : for ``method:`` gates, the method name and metric; else ``None``.
    """

    expression: str
    name: str
    operator: str | None = None
    threshold: float | None = None
    method: str | None = None
    metric: str | None = None


def parse_gate(text: str) -> Gate:
    """Parse a gate expression (grammar in the module docstring).

    Raises
    ------
    ConfigError
        On a malformed expression, an unknown gate name or metric, an operator on a
        flag gate, or a numeric gate without one.
    """
    expression = "".join(str(text).split())
    match = _PATTERN.match(expression)
    if not match:
        raise ConfigError(f"gate {text!r} is not of the form NAME, NAME<NUMBER or NAME>NUMBER; "
                          f"e.g. accuracy<0.9 (gates: {', '.join(valid_gates())})")
    name, op, value = match["name"], match["op"], match["value"]
    threshold = None if value is None else float(value)
    if name.startswith("method:"):
        method, dot, metric = name[len("method:"):].rpartition(".")
        if not dot or not method:
            raise ConfigError(f"gate {text!r} must name a method and a metric, e.g. method:NAME.deletion_auc>0.3 "
                              "with a NAME from 'reportgen methods'")
        if metric not in METHOD_METRICS:
            raise unknown_name_error("gate metric", metric, list(METHOD_METRICS))
        if op is None:
            raise ConfigError(f"gate {text!r} needs a comparison, e.g. method:{method}.{metric}>0.3")
        return Gate(expression, "method", op, threshold, method, metric)
    if name in flag_gates():
        if op is not None:
            raise ConfigError(f"gate {text!r}: {name} takes no comparison; write just {name}")
        return Gate(expression, name)
    if name in RENAMED_GATES:
        raise ConfigError(f"gate {name} is now {RENAMED_GATES[name]} (a FAIL of its page-one check; "
                          f"{RENAMED_GATES[name].removesuffix('_failed')}_not_passed also fails on an INCONCLUSIVE); "
                          "change the --fail-if")
    if name in NUMERIC_GATES:
        if op is None:
            raise ConfigError(f"gate {text!r} needs a comparison, e.g. {name}>0.05")
        return Gate(expression, name, op, threshold)
    raise unknown_name_error("gate", name, valid_gates())


def _largest_change(document: ReportDocument, gate_name: str) -> tuple[float | None, str]:
    """Largest worsening (``sign * change``) a change gate reads, over the comparison's rows, and whose."""
    part, key, sign, _ = CHANGE_GATES[gate_name]
    rows = (document.comparison or {}).get(part) or []
    if part == "methods":
        changes = [(sign * row[key]["change"], row["name"]) for row in rows
                   if (row.get(key) or {}).get("change") is not None]
    else:
        changes = [(sign * row["change"], row["method"] or "the model") for row in rows
                   if row.get("quantity") == key and row.get("change") is not None]
    return max(changes) if changes else (None, "")


def _flag(gate: Gate, checks: list[Check]) -> tuple[bool, str]:
    """(condition holds, detail) for a gate without an operator, read from the outcomes of the checks that name
    its stem: ``_failed`` holds on a FAIL, ``_not_passed`` on a FAIL or an INCONCLUSIVE."""
    stem, strict, spec = flag_gates()[gate.name]
    reading = [check for check in checks if check.gate == stem]
    if not reading:
        return False, spec.skipped
    holding = [check for check in reading if check.outcome == FAIL or (strict and check.outcome == INCONCLUSIVE)]
    if not holding:
        return False, f"{len(reading)} check{'s' if len(reading) != 1 else ''} {'passed' if strict else 'not failed'}"
    return True, "; ".join(f"{check.name}: {check.outcome.upper()}" for check in holding)


def _evaluate(gate: Gate, document: ReportDocument, checks: list[Check]) -> tuple[bool, str]:
    """(condition holds, detail) for one gate."""
    if gate.name in flag_gates():
        return _flag(gate, checks)
    compare = OPERATORS[gate.operator or ""]
    if gate.name == "accuracy":
        value = model_accuracy(document)
        if value is None:
            return False, "skipped: the report has no accuracy"
        return compare(value, gate.threshold), f"accuracy is {value:.4f}"
    if gate.name == "roc_auc":
        value = document.model.evaluation.get("roc_auc")
        if value is None:
            return False, "skipped: the report has no ROC AUC"
        return compare(float(value), gate.threshold), f"ROC AUC is {float(value):.4f}"
    if gate.name in MODEL_MEASURES:
        value = model_measure(document, gate.name)
        if value is None:
            return False, f"skipped: the report has no {MODEL_MEASURES[gate.name]}"
        return compare(value, gate.threshold), f"{MODEL_MEASURES[gate.name]}: {value:.4f}"
    if gate.name in CHANGE_GATES:
        _, key, _, verb = CHANGE_GATES[gate.name]
        if not document.comparison:
            return False, "skipped: no previous report to compare with"
        value, whose = _largest_change(document, gate.name)
        if value is None:
            return False, f"skipped: no {key.replace('_', ' ')} is in both reports"
        return compare(value, gate.threshold), f"largest {key.replace('_', ' ')} change: {whose} {verb} by {value:.4f}"
    methods = document.methods
    if gate.method not in methods:
        raise unknown_name_error("method in gate", gate.method, list(methods))
    if gate.metric in METHOD_MEASURES:
        value = method_measure(document, gate.method, gate.metric)
    else:
        value = getattr(methods[gate.method], gate.metric).mean
    if value is None:
        return False, f"skipped: the report has no {gate.metric} for {gate.method}"
    value = float(value)
    return compare(value, gate.threshold), f"{gate.method} mean {gate.metric} is {value:.4f}"


def evaluate_gates(gates: list[Gate], document: ReportDocument, checks: list[Check] | None = None) -> list[dict]:
    """Evaluate gates on a finished document.

    Parameters
    ----------
    gates : parsed gates (:func:`parse_gate`).
    document : report document, with ``comparison`` filled when a previous report was given.
    checks : the document's page-one checks (:func:`reportgen.judgement.sections.all_checks`), which the flag
        gates read; default: judged from ``document``.

    Returns
    -------
    list of ``{"expression": str, "passed": bool, "detail": str}``, one per gate, in order;
    ``passed`` is false when the failure condition holds.

    Raises
    ------
    ConfigError
        When a ``method:`` gate names a method that is not in the report.
    """
    checks = all_checks(document) if checks is None else checks
    results = []
    for gate in gates:
        holds, detail = _evaluate(gate, document, checks)
        results.append({"expression": gate.expression, "passed": not holds, "detail": detail})
    return results
