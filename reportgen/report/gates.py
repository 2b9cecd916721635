"""Gates for scheduled runs: conditions under which a run fails after writing its report.

A gate is written as a *failure condition* (``--fail-if accuracy<0.9``).  Grammar::

    gate      := name [operator number]
    operator  := "<" | "<=" | ">" | ">="
    name      := "accuracy" | "roc_auc"
               | "slide_accuracy"            the lowest accuracy on a slide with 20 or more evaluated patches
               | "stain_flip_rate"           the model's largest prediction flip rate under the stain conditions
                                             its page-one check reads (HED strong)
               | "periphery_reliance"        the share of tumour calls lost when the periphery is replaced
               | "deletion_auc_increase"     any method's deletion AUC rose by more than the value
               | "insertion_auc_decrease"    any method's insertion AUC fell by more than the value
               | "centre_mass_decrease"      any method's share of attribution in the centre 32x32 fell by more
               | "mass_in_mask_decrease"     any method's share of attribution in the tumour mask fell by more
               | "periphery_reliance_increase"  the share of tumour calls lost without the periphery rose by more
               | "sanity_failed"             any method did not pass the sanity check (failed or
                                             inconclusive), or its positive control did not fail (no operator)
               | "beats_random_failed"       any method is not better than the random map (verdict rule; no operator)
               | "right_reason_failed"       the model's tumour calls rely on the periphery (no operator)
               | "stain_failed"              the model's decision depends on the stain, or a method explains
                                             the stain instead of the decision (no operator)
               | "centre_mass_below_uniform" any method puts less of its attribution in the centre 32x32 than a
                                             uniform map does (no operator)
               | "method:" method "." metric  metric is deletion_auc, insertion_auc, centre_mass or mass_in_mask

Spaces are ignored.  The ``..._increase`` and ``..._decrease`` gates read
``document["comparison"]`` (:func:`reportgen.report.compare.compare_reports`); without
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
from reportgen.report.measures import METHOD_MEASURES, MODEL_MEASURES, method_measure, model_measure
from reportgen.report.summary import (
    UNIFORM_CENTRE_MASS,
    loses_to_random,
    model_accuracy,
    sanity_not_passed,
    untrusted_controls,
)

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
}
#: Gates on a change since the previous report -> (the comparison list and key it reads, the sign that makes
#: a worsening positive, the verb for the detail).  AUC changes are read from ``comparison["methods"]``,
#: the evidence's from ``comparison["evidence"]`` (:func:`reportgen.report.compare.compare_evidence`).
CHANGE_GATES = {
    "deletion_auc_increase": ("methods", "deletion_auc", 1.0, "rose"),
    "insertion_auc_decrease": ("methods", "insertion_auc", -1.0, "fell"),
    "centre_mass_decrease": ("evidence", "centre_mass", -1.0, "fell"),
    "mass_in_mask_decrease": ("evidence", "mass_in_mask", -1.0, "fell"),
    "periphery_reliance_increase": ("evidence", "periphery_reliance", 1.0, "rose"),
}
NUMERIC_GATES = ("accuracy", "roc_auc", *MODEL_MEASURES, *CHANGE_GATES)
FLAG_GATES = ("sanity_failed", "beats_random_failed", "right_reason_failed", "stain_failed",
              "centre_mass_below_uniform")
METHOD_METRICS = ("deletion_auc", "insertion_auc", *METHOD_MEASURES)
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


def _largest_change(document: dict, gate_name: str) -> tuple[float | None, str]:
    """Largest worsening (``sign * change``) a change gate reads, over the comparison's rows, and whose."""
    part, key, sign, _ = CHANGE_GATES[gate_name]
    rows = (document.get("comparison") or {}).get(part) or []
    if part == "methods":
        changes = [(sign * row[key]["change"], row["name"]) for row in rows
                   if (row.get(key) or {}).get("change") is not None]
    else:
        changes = [(sign * row["change"], row["method"] or "the model") for row in rows
                   if row.get("quantity") == key and row.get("change") is not None]
    return max(changes) if changes else (None, "")


def _flag(gate: Gate, document: dict) -> tuple[bool, str]:
    """(condition holds, detail) for a gate without an operator."""
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
    if gate.name == "right_reason_failed":
        evidence = document.get("evidence")
        if not evidence:
            return False, "skipped: the right-for-the-right-reason test did not run"
        lost = model_measure(document, "periphery_reliance")
        share = "n/a" if lost is None else f"{lost:.2f}"
        return (evidence.get("decision") == "relies_on_periphery",
                f"{share} of {evidence.get('tumour_calls')} tumour calls lost without the periphery "
                f"(limit {evidence.get('limit')}): {evidence.get('decision')}")
    if gate.name == "stain_failed":
        stain = document.get("stain_robustness")
        if not stain:
            return False, "skipped: the stain robustness step did not run"
        reasons = ["the model's decision depends on the stain"] if stain.get("model_depends_on_stain") else []
        reasons += [f"{name} explains the stain" for name in stain.get("explains_stain") or []]
        return bool(reasons), "; ".join(reasons) if reasons else "decision and maps hold under the stain checks"
    # centre_mass_below_uniform: the page-one localisation check's rule, as a failure condition.
    shares = {name: method_measure(document, name, "centre_mass") for name in document.get("methods") or {}}
    shares = {name: value for name, value in shares.items() if value is not None}
    if not shares:
        return False, "skipped: the report has no centre mass"
    below = [f"{name} {value:.3f}" for name, value in shares.items() if value < UNIFORM_CENTRE_MASS]
    return bool(below), (f"below a uniform map's {UNIFORM_CENTRE_MASS:.3f}: {', '.join(below)}" if below
                         else f"every method at least a uniform map's {UNIFORM_CENTRE_MASS:.3f}")


def _evaluate(gate: Gate, document: dict) -> tuple[bool, str]:
    """(condition holds, detail) for one gate."""
    if gate.name in FLAG_GATES:
        return _flag(gate, document)
    compare = OPERATORS[gate.operator or ""]
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
    if gate.name in MODEL_MEASURES:
        value = model_measure(document, gate.name)
        if value is None:
            return False, f"skipped: the report has no {MODEL_MEASURES[gate.name]}"
        return compare(value, gate.threshold), f"{MODEL_MEASURES[gate.name]}: {value:.4f}"
    if gate.name in CHANGE_GATES:
        _, key, _, verb = CHANGE_GATES[gate.name]
        if not document.get("comparison"):
            return False, "skipped: no previous report to compare with"
        value, whose = _largest_change(document, gate.name)
        if value is None:
            return False, f"skipped: no {key.replace('_', ' ')} is in both reports"
        return compare(value, gate.threshold), f"largest {key.replace('_', ' ')} change: {whose} {verb} by {value:.4f}"
    methods = document.get("methods") or {}
    if gate.method not in methods:
        raise unknown_name_error("method in gate", gate.method, list(methods))
    if gate.metric in METHOD_MEASURES:
        value = method_measure(document, gate.method, gate.metric)
    else:
        value = (methods[gate.method].get(gate.metric) or {}).get("mean")
    if value is None:
        return False, f"skipped: the report has no {gate.metric} for {gate.method}"
    value = float(value)
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
