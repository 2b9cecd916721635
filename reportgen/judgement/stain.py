"""The stain section's judgement: does the model decide by stain, and does a method explain the stain?

The rules and their limits are those of :mod:`reportgen.metrics.stain` (docs/metrics.md#stain-rules); the
document's ``stain_robustness`` record states them and holds their decisions.
"""

from __future__ import annotations

from reportgen.formatting import fmt_interval
from reportgen.judgement.check import Check, Finding
from reportgen.judgement.reading import OUTCOME_WORDS, method_title, share
from reportgen.metrics.stain import (
    MAP_SPEARMAN_MIN,
    MIN_MODEL_PATCHES,
    MODEL_FLIP_RATE_MAX,
    STABLE_FLIP_RATE,
    STABLE_PROBABILITY_CHANGE,
)


def model_stain_conditions(stain: dict | None) -> list[dict]:
    """The condition records the stain section's model-level rule reads (``model_conditions``), in its order."""
    conditions = (stain or {}).get("conditions") or {}
    return [conditions[name] for name in (stain or {}).get("model_conditions") or [] if name in conditions]


def _strength(condition: dict) -> str:
    return f" (s = {condition['strength']:g})" if condition.get("strength") is not None else ""


def _model_check(stain: dict) -> Check:
    limits = stain.get("thresholds") or {}
    model = model_stain_conditions(stain)
    class_stain = stain.get("class_stain")
    condition = (f"prediction flip rate at most {limits.get('model_flip_rate_max', MODEL_FLIP_RATE_MAX):g} under "
                 f"{' and under '.join(str(record.get('title')) for record in model)}")
    measured = ("; ".join(f"{record.get('title')}: {fmt_interval(record.get('flip_rate'), 2)}" for record in model)
                + f" on {stain.get('images')} patches")
    if limits.get("class_stain_shift_max") is not None:
        condition += (f"; given the other class's stain, the tumour probability moves at most "
                      f"{limits['class_stain_shift_max']:g} toward that class")
        measured += ("; the other class's stain: the data hold one class only" if class_stain is None else
                     f"; the other class's stain: {fmt_interval(class_stain.get('toward_donor'))} toward it on "
                     f"{class_stain.get('patches')} patches")
    depends = stain.get("model_depends_on_stain")
    if depends is None:
        least = limits.get("min_model_patches", MIN_MODEL_PATCHES)
        short = ([f"{least} stain patches"] if (stain.get("images") or 0) < least else []) + (
            [f"{least} evaluated patches of each class"] if (class_stain or {}).get("follows_class_stain") is None
            else [])
        measured += f" (too few to decide: at least {' and '.join(short)})"
    # None: too few patches for a rule (a WARN that says so, not a verdict).
    return Check("Model decision under a stain change", condition, measured,
                 {True: "fail", False: "pass"}.get(depends, "warn"), "stain", gate="stain_failed",
                 gate_holds=bool(depends),
                 gate_details=("the model's decision depends on the stain",) if depends else ())


def checks(document: dict) -> list[Check]:
    """The model's check (flip rate under each condition its rule reads) and each method's (does it explain the
    stain?).  The ``stain_failed`` gate holds when the model decides by stain or a method explains the stain."""
    stain = document.get("stain_robustness")
    if not stain:
        return []
    conditions, limits = stain.get("conditions") or {}, stain.get("thresholds") or {}
    found = [_model_check(stain)]
    condition = (f"under each condition that barely changed the decision (flip rate at most "
                 f"{limits.get('stable_flip_rate', STABLE_FLIP_RATE):g}, mean |change in tumour probability| at most "
                 f"{limits.get('stable_probability_change', STABLE_PROBABILITY_CHANGE):g}), mean Spearman of the maps with the original maps at "
                 f"least {limits.get('map_spearman_min', MAP_SPEARMAN_MIN):g}")
    for name in document.get("methods") or {}:
        parts, stable = [], False
        for record in conditions.values():
            similarity = ((record.get("methods") or {}).get(name) or {}).get("spearman")
            if record.get("decision_stable"):
                stable = True
                parts.append(f"{record.get('title')}: {fmt_interval(similarity, 2)}")
            else:
                parts.append(f"{record.get('title')}: decision changed")
        explains = name in (stain.get("explains_stain") or [])
        # Without a stable condition the rule cannot be applied.
        outcome = "fail" if explains else ("pass" if stable else "warn")
        found.append(Check(f"{method_title(document, name)}: explains the decision, not the stain", condition,
                           "; ".join(parts), outcome, "stain", gate="stain_failed", gate_holds=explains,
                           gate_details=(f"{name} explains the stain",) if explains else ()))
    return found


def findings(document: dict) -> list[Finding]:
    """A model that decides by stain and a method that explains the stain (high, by the rules the section
    states), a deletion verdict that changes with the stain (medium), and patches Macenko normalisation could
    not change (low)."""
    stain = document.get("stain_robustness") or {}
    conditions, limits = stain.get("conditions") or {}, stain.get("thresholds") or {}
    found = []
    limit = limits.get("model_flip_rate_max")
    flipped = [condition for condition in model_stain_conditions(stain)
               if ((condition.get("flip_rate") or {}).get("mean") or 0.0) > (limit or 0.0)]
    if stain.get("model_depends_on_stain") and flipped:
        where = " and ".join(f"under {condition.get('title')}{_strength(condition)} "
                             f"{share(condition.get('flip_rate'))}" for condition in flipped)
        found.append(Finding(
            "high", f"The decision of the model depends on stain: {where} of its predictions on {stain.get('images')} "
            f"patches change class, more than {limit:g}. A change of the stain alone, the tissue kept, moves its "
            "decisions, so they are unlikely to hold on slides stained elsewhere, and may rest on a stain that "
            "travels with the label."))
    class_stain = stain.get("class_stain") or {}
    if stain.get("model_depends_on_stain") and class_stain.get("follows_class_stain"):
        found.append(Finding(
            "high", f"The decision of the model follows a stain that travels with the label: given the stain "
            f"amounts of a patch of the other class, its tumour probability moves "
            f"{share(class_stain.get('toward_donor'))} toward that class on average, over "
            f"{class_stain.get('patches')} evaluated patches (the limit is "
            f"{limits.get('class_stain_shift_max'):g}). Its decisions rest in part on how strongly a patch is "
            "stained, which in these data goes with the label, and will not hold where it does not."))
    for name in stain.get("explains_stain") or []:
        where = [f"{condition['title']} (flip rate {share(condition.get('flip_rate'))}, mean |change in tumour "
                 f"probability| {share(condition.get('abs_probability_change'))}, map Spearman "
                 f"{share(condition['methods'][name].get('spearman'))})"
                 for condition in conditions.values()
                 if ((condition.get("methods") or {}).get(name) or {}).get("explains_stain")]
        found.append(Finding(
            "high", f"{method_title(document, name)} explains the stain, not the decision of the model: under "
            f"{' and '.join(where)}, the decision barely changed but its maps did (mean Spearman with the maps "
            f"on the original patches below {limits.get('map_spearman_min'):g}).", name))
    for condition in conditions.values():
        for name, record in (condition.get("methods") or {}).items():
            if not record.get("verdict_changed"):
                continue
            before = ((stain.get("original_verdicts") or {}).get(name) or {}).get("outcome")
            after = (record.get("verdict") or {}).get("outcome")
            found.append(Finding(
                "medium", f"The deletion AUC verdict of {method_title(document, name)} against the random map "
                f"changes under {condition.get('title')}: {OUTCOME_WORDS.get(before, before)} on the original patches, "
                f"{OUTCOME_WORDS.get(after, after)} on the perturbed ones.", name))
    for condition in conditions.values():
        if condition.get("unchanged"):
            found.append(Finding(
                "low", f"{condition.get('title')} left {condition['unchanged']} of {stain.get('images')} stain "
                f"patches unchanged ({', '.join(condition.get('unchanged_patches') or [])}): too little tissue to "
                "estimate their stain."))
    return found
