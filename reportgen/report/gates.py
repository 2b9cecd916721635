"""Gates for scheduled runs: conditions under which a run fails after writing its report.

A gate is written as a *failure condition* (``--fail-if accuracy<0.9``).  Grammar::

    gate      := name [operator number]
    operator  := "<" | "<=" | ">" | ">="
    name      := "accuracy" | "roc_auc"
               | "deletion_auc_increase"     any method's deletion AUC rose by more than the value
               | "insertion_auc_decrease"    any method's insertion AUC fell by more than the value
               | "sanity_failed"             any method did not pass the sanity check (failed or
                                             inconclusive), or its positive control did not fail (no operator)
               | "beats_random_failed"       any method is not better than the random map (verdict rule; no operator)
               | "method:" method "." metric  metric is deletion_auc, insertion_auc or centre_mass

Spaces are ignored.  ``deletion_auc_increase`` and ``insertion_auc_decrease`` read
``document["comparison"]`` (:func:`reportgen.report.compare.compare_reports`); without
a previous report they are skipped and pass, and their detail says so.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Callable

from reportgen.errors import ConfigError, unknown_name_error
from reportgen.report.summary import loses_to_random, model_accuracy, sanity_not_passed, untrusted_controls

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
}
NUMERIC_GATES = ("accuracy", "roc_auc", "deletion_auc_increase", "insertion_auc_decrease")
FLAG_GATES = ("sanity_failed", "beats_random_failed")
METHOD_METRICS = ("deletion_auc", "insertion_auc", "centre_mass")
VALID_GATES = [*NUMERIC_GATES, *FLAG_GATES, "method:<name>.<metric>"]
_PATTERN = re.compile(r"^(?P<name>[A-Za-z_][\w:.\-]*)(?:(?P<op><=|>=|<|>)(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))?$")


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
                          f"e.g. accuracy<0.9 (gates: {', '.join(VALID_GATES)})")
    name, op, value = match["name"], match["op"], match["value"]
    threshold = None if value is None else float(value)
    if name.startswith("method:"):
        method, dot, metric = name[len("method:"):].rpartition(".")
        if not dot or not method:
            raise ConfigError(f"gate {text!r} must name a method and a metric, e.g. method:grad_cam.deletion_auc>0.3")
        if metric not in METHOD_METRICS:
            raise unknown_name_error("gate metric", metric, list(METHOD_METRICS))
        if op is None:
            raise ConfigError(f"gate {text!r} needs a comparison, e.g. method:{method}.{metric}>0.3")
        return Gate(expression, "method", op, threshold, method, metric)
    if name in FLAG_GATES:
        if op is not None:
            raise ConfigError(f"gate {text!r}: {name} takes no comparison; write just {name}")
        return Gate(expression, name)
    if name in NUMERIC_GATES:
        if op is None:
            raise ConfigError(f"gate {text!r} needs a comparison, e.g. {name}>0.05")
        return Gate(expression, name, op, threshold)
    raise unknown_name_error("gate", name, VALID_GATES)


def _largest_change(document: dict, key: str, sign: float) -> tuple[float | None, str]:
    """Largest ``sign * change`` of ``key`` over methods in the comparison, and which method."""
    comparison = document.get("comparison")
    changes = [(sign * row[key]["change"], row["name"]) for row in (comparison or {}).get("methods", [])
               if row.get(key, {}).get("change") is not None]
    if not changes:
        return None, ""
    return max(changes)


def _evaluate(gate: Gate, document: dict) -> tuple[bool, str]:
    """(condition holds, detail) for one gate."""
    compare = OPERATORS.get(gate.operator or "")
    if gate.name == "accuracy":
        value = model_accuracy(document)
        if value is None:
            return False, "skipped: the report has no accuracy"
        return compare(value, gate.threshold), f"accuracy is {value:.4f}"
    if gate.name == "roc_auc":
        value = ((document.get("model") or {}).get("evaluation") or {}).get("roc_auc")
        if value is None:
            return False, "skipped: the report has no ROC AUC"
        return compare(float(value), gate.threshold), f"ROC AUC is {float(value):.4f}"
    if gate.name in ("deletion_auc_increase", "insertion_auc_decrease"):
        key, sign, verb = (("deletion_auc", 1.0, "rose") if gate.name == "deletion_auc_increase"
                           else ("insertion_auc", -1.0, "fell"))
        if not document.get("comparison"):
            return False, "skipped: no previous report to compare with"
        value, method = _largest_change(document, key, sign)
        if value is None:
            return False, "skipped: no method is in both reports"
        return compare(value, gate.threshold), f"largest {key.replace('_', ' ')} change: {method} {verb} by {value:.4f}"
    if gate.name == "sanity_failed":
        if not document.get("sanity"):
            return False, "skipped: no sanity check was run"
        # Anything short of evidence fails the gate: an inconclusive method, or a check whose control passed.
        not_passed, untrusted = sanity_not_passed(document), untrusted_controls(document)
        details = [f"{name} ({outcome})" for name, outcome in not_passed.items()]
        details += [f"control {name} was {outcome}, not failed" for name, outcome in untrusted.items()]
        return bool(details), f"not passed: {', '.join(details)}" if details else "every method passed"
    if gate.name == "beats_random_failed":
        failed = [f"{name} ({kind})" for name in (document.get("methods") or {})
                  for kind in loses_to_random(document, name)]
        return bool(failed), (f"not better than random under the verdict rule: {', '.join(failed)}" if failed
                              else "every method is better than random")
    methods = document.get("methods") or {}
    if gate.method not in methods:
        raise unknown_name_error("method in gate", gate.method, list(methods))
    if gate.metric == "centre_mass":
        record = ((document.get("localisation") or {}).get(gate.method) or {}).get("centre_mass") or {}
    else:
        record = methods[gate.method].get(gate.metric) or {}
    if record.get("mean") is None:
        return False, f"skipped: the report has no {gate.metric} for {gate.method}"
    value = float(record["mean"])
    return compare(value, gate.threshold), f"{gate.method} mean {gate.metric} is {value:.4f}"


def evaluate_gates(gates: list[Gate], document: dict) -> list[dict]:
    """Evaluate gates on a finished document.

    Parameters
    ----------
    gates : parsed gates (:func:`parse_gate`).
    document : report document, with ``comparison`` filled when a previous report was given.

    Returns
    -------
    list of ``{"expression": str, "passed": bool, "detail": str}``, one per gate, in order;
    ``passed`` is false when the failure condition holds.

    Raises
    ------
    ConfigError
        When a ``method:`` gate names a method that is not in the report.
    """
    results = []
    for gate in gates:
        holds, detail = _evaluate(gate, document)
        results.append({"expression": gate.expression, "passed": not holds, "detail": detail})
    return results
