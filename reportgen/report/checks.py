"""Page one's check table: every check with its condition, what was measured and its outcome.

Each outcome is read from a decision the document already holds (the verdict
rule's outcomes, the sanity check's outcome, a gate's result) or from a rule
stated once here or in :mod:`reportgen.report.summary`; nothing is decided from
a mean against another mean.  Outcomes are ``pass``, ``warn`` (the check could
not be passed, or a finding a reviewer must read) and ``fail``, and the table
lists failures first (Evidently and Deepchecks open the same way).
"""

from __future__ import annotations

from reportgen.report.evidence import evidence_check
from reportgen.report.formatting import fmt_interval
from reportgen.report.slides import slides_check
from reportgen.report.summary import (
    DIRECTIONS,
    LOW_ACCURACY,
    METRIC_LABELS,
    MODEL_INDEPENDENT,
    UNIFORM_CENTRE_MASS,
    find_verdict,
    method_title,
    model_accuracy,
    model_stain_conditions,
)

CHECK_OUTCOMES = ("fail", "warn", "pass")
#: Expected calibration error above which the predicted probabilities are called unreliable: a patch's stated
#: tumour probability is then off by more than a tenth of the probability range on average.
HIGH_ECE = 0.1
_SANITY_OUTCOMES = {"passed": "pass", "failed": "fail", "inconclusive": "warn"}
#: The table's short names of the reference maps and of the verdict outcomes.
_REFERENCE_NAMES = {"random": "random", "centre_prior": "centre prior", "sobel": "Sobel"}
_SHORT_OUTCOMES = {"better": "better", "worse": "worse", "not_distinguishable": "not distinguishable",
                   "too_few": "too few to decide"}


def _check(name: str, condition: str, measured: str, outcome: str, section: str) -> dict:
    return {"check": name, "condition": condition, "measured": measured, "outcome": outcome, "section": section}


def _faithfulness(document: dict) -> list[dict]:
    """One check per method and metric: better than every reference map by the verdict rule."""
    alpha = (document.get("settings") or {}).get("alpha", 0.05)
    references = [name for name in ("random", *MODEL_INDEPENDENT) if name in (document.get("baselines") or {})]
    condition = (f"better than the {', '.join(_REFERENCE_NAMES.get(r, r) for r in references)} map"
                 f"{'s' if len(references) > 1 else ''} (Wilcoxon, Holm, alpha {alpha:g})")
    checks = []
    for name in document.get("methods") or {}:
        for kind, (key, _) in DIRECTIONS.items():
            verdicts = {reference: find_verdict(document, name, reference, key) for reference in references}
            outcomes = {reference: (v or {}).get("outcome") for reference, v in verdicts.items()}
            if not any(outcomes.values()):
                continue
            if outcomes.get("random") not in ("better", "too_few", None):
                outcome = "fail"  # no better than a map that carries no information
            elif all(value == "better" for value in outcomes.values()):
                outcome = "pass"
            else:
                outcome = "warn"  # undecided, or not better than a map that ignores the model
            measured = "; ".join(f"{_REFERENCE_NAMES.get(r, r)}: {_SHORT_OUTCOMES.get(o, str(o))}"
                                 for r, o in outcomes.items())
            checks.append(_check(f"{method_title(document, name)}: faithfulness by {METRIC_LABELS[kind]}",
                                 condition, measured, outcome, "faithfulness"))
    return checks


def _sanity(document: dict) -> list[dict]:
    sanity = document.get("sanity")
    if not sanity:
        return []
    checks = []
    for name, record in (sanity.get("methods") or {}).items():
        similarity = fmt_interval({"mean": record.get("final"), "ci95": record.get("ci95")}, 2)
        checks.append(_check(
            f"{method_title(document, name)}: model-randomisation sanity check",
            f"95 % interval of the similarity after randomising the network below {record.get('threshold', 0.5):g}",
            f"{similarity} on {sanity.get('images')} patches: "
            f"{record.get('outcome', 'passed' if record.get('passed') else 'failed')}",
            _SANITY_OUTCOMES.get(record.get("outcome"), "pass" if record.get("passed") else "fail"), "sanity"))
    if sanity.get("controls"):
        trusted = bool(sanity.get("trustworthy"))
        checks.append(_check("Sanity check control (Sobel edges)", "the model-independent control fails the check",
                             "failed, as it must" if trusted else "did not fail", "pass" if trusted else "fail",
                             "sanity"))
    return checks


def _stain(document: dict) -> list[dict]:
    """The model's check (flip rate under each condition its rule reads) and each method's (does it explain the stain?)."""
    stain = document.get("stain_robustness")
    if not stain:
        return []
    conditions, limits = stain.get("conditions") or {}, stain.get("thresholds") or {}
    model = model_stain_conditions(stain)
    class_stain = stain.get("class_stain")
    condition = (f"prediction flip rate at most {limits.get('model_flip_rate_max'):g} under "
                 f"{' and under '.join(str(record.get('title')) for record in model)}")
    measured = ("; ".join(f"{record.get('title')}: {fmt_interval(record.get('flip_rate'), 2)}" for record in model)
                + f" on {stain.get('images')} patches")
    if limits.get("class_stain_shift_max") is not None:
        condition += (f"; given the other class's stain, the tumour probability moves at most "
                      f"{limits['class_stain_shift_max']:g} toward that class")
        measured += ("; the other class's stain: the data hold one class only" if class_stain is None else
                     f"; the other class's stain: {fmt_interval(class_stain.get('toward_donor'))} toward it on "
                     f"{class_stain.get('patches')} patches")
    checks = [_check("Model decision under a stain change", condition, measured,
                     # None: too few patches for a rule (a WARN that says so, not a verdict).
                     {True: "fail", False: "pass"}.get(stain.get("model_depends_on_stain"), "warn"), "stain")]
    if stain.get("model_depends_on_stain") is None:
        least = limits.get("min_model_patches", 5)
        short = ([f"{least} stain patches"] if (stain.get("images") or 0) < least else []) + (
            [f"{least} evaluated patches of each class"] if (class_stain or {}).get("follows_class_stain") is None
            else [])
        checks[0]["measured"] += f" (too few to decide: at least {' and '.join(short)})"
    condition = (f"under each condition that barely changed the decision (flip rate at most "
                 f"{limits.get('stable_flip_rate'):g}, mean |change in tumour probability| at most "
                 f"{limits.get('stable_probability_change'):g}), mean Spearman of the maps with the original maps at "
                 f"least {limits.get('map_spearman_min'):g}")
    for name in document.get("methods") or {}:
        parts, stable = [], False
        for record in conditions.values():
            similarity = ((record.get("methods") or {}).get(name) or {}).get("spearman")
            if record.get("decision_stable"):
                stable = True
                parts.append(f"{record.get('title')}: {fmt_interval(similarity, 2)}")
            else:
                parts.append(f"{record.get('title')}: decision changed")
        if name in (stain.get("explains_stain") or []):
            outcome = "fail"
        else:
            outcome = "pass" if stable else "warn"  # without a stable condition the rule cannot be applied
        checks.append(_check(f"{method_title(document, name)}: explains the decision, not the stain", condition,
                             "; ".join(parts), outcome, "stain"))
    return checks


def _localisation(document: dict) -> list[dict]:
    checks = []
    for name, record in (document.get("localisation") or {}).items():
        if name not in (document.get("methods") or {}):
            continue
        centre = (record or {}).get("centre_mass") or {}
        if centre.get("mean") is None:
            continue
        checks.append(_check(f"{method_title(document, name)}: attribution in the centre 32x32",
                             f"mean share at least a uniform map's ({UNIFORM_CENTRE_MASS:.3f})",
                             fmt_interval(centre, 3),
                             "pass" if centre["mean"] >= UNIFORM_CENTRE_MASS else "warn", "localisation"))
    return checks


def _model(document: dict) -> list[dict]:
    checks = []
    accuracy = model_accuracy(document)
    if accuracy is not None:
        checks.append(_check("Validation accuracy", f"at least {LOW_ACCURACY:g}", f"{accuracy:.3f}",
                             "pass" if accuracy >= LOW_ACCURACY else "warn", "model"))
    ece = ((document.get("model") or {}).get("evaluation") or {}).get("ece")
    if ece is not None:
        checks.append(_check("Calibration (expected calibration error)", f"at most {HIGH_ECE:g}", f"{ece:.3f}",
                             "pass" if ece <= HIGH_ECE else "warn", "model"))
    return checks


def _gates(document: dict) -> list[dict]:
    return [_check(f"Gate --fail-if {gate.get('expression')}", "the gate holds", str(gate.get("detail", "")),
                   "pass" if gate.get("passed") else "fail", "gates")
            for gate in document.get("gates") or []]


def page_one_checks(document: dict) -> list[dict]:
    """Every check of the report, failures first, then warnings, then passes (each group in report order).

    Returns
    -------
    list of ``{"check", "condition", "measured", "outcome": "pass" | "warn" | "fail", "section"}``,
    ``section`` the anchor of the report section with the evidence.
    """
    extra = [check for check in (evidence_check(document), slides_check(document)) if check]
    checks = [*_gates(document), *_faithfulness(document), *_sanity(document), *_stain(document),
              *_localisation(document), *extra, *_model(document)]
    return sorted(checks, key=lambda check: CHECK_OUTCOMES.index(check["outcome"]))


def check_counts(checks: list[dict]) -> dict[str, int]:
    """outcome -> how many checks have it, for every outcome."""
    return {outcome: sum(1 for check in checks if check["outcome"] == outcome) for outcome in CHECK_OUTCOMES}


def page_one(document: dict) -> dict:
    """``{"checks", "check_counts"}`` for the document's summary; call once the gates are evaluated."""
    checks = page_one_checks(document)
    return {"checks": checks, "check_counts": check_counts(checks)}
