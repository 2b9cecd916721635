"""The stain section's judgement: does the model decide by stain, and does a method explain the stain?

The rules and their limits are those of :mod:`reportgen.metrics.stain` (docs/metrics.md#stain-rules); the
document's ``stain_robustness`` record states them and holds their decisions.
"""

from __future__ import annotations

from reportgen.formatting import fmt_interval
from reportgen.judgement.check import Check, Finding, interval_check
from reportgen.judgement.reading import OUTCOME_WORDS, method_title, more_evaluated, rate_units
from reportgen.judgement.rule import FAIL, INCONCLUSIVE, combine
from reportgen.metrics.stain import (
    MAP_SPEARMAN_MIN,
    MODEL_FLIP_RATE_MAX,
    STABLE_FLIP_RATE,
    STABLE_PROBABILITY_CHANGE,
)
from reportgen.schema import ReportDocument, StainCondition, StainRobustness


def model_stain_conditions(stain: StainRobustness | None) -> list[StainCondition]:
    """The condition records the stain section's model-level rule reads (``model_conditions``), in its order;
    none where the section, or in an earlier report either key, is missing."""
    if stain is None:
        return []
    conditions = stain.conditions or {}
    return [conditions[name] for name in stain.model_conditions or [] if name in conditions]


def _limits(stain: StainRobustness) -> dict[str, float]:
    """The section's ``thresholds``; a limit it does not state is the rule's own (:mod:`reportgen.metrics.stain`)."""
    return stain.thresholds or {}


def _model_parts(stain: StainRobustness) -> list[Check]:
    """The model's stain claims, one interval each: the flip rate under each condition its rule reads, and the
    tumour probability's move toward the other class given that class's stain."""
    limits = _limits(stain)
    parts = []
    for record in model_stain_conditions(stain):
        units, noun = rate_units(record.flip_rate, int(stain.images or 0))
        limit = limits.get("model_flip_rate_max", MODEL_FLIP_RATE_MAX)
        parts.append(interval_check(
            "flip", f"prediction flip rate at most {limit:g} under {record.title}",
            f"{record.title}: {fmt_interval(record.flip_rate, 2)} on {units} {noun}", "stain",
            value=record.flip_rate.mean, interval=record.flip_rate.ci95,
            limit=limit, direction="at_most", units=units, more=more_evaluated(noun)))
    class_stain = stain.class_stain
    if class_stain is not None and limits.get("class_stain_shift_max") is not None:
        toward = class_stain.toward_donor
        units, noun = rate_units(toward, int(class_stain.patches or 0))
        parts.append(interval_check(
            "class", f"given the other class's stain, the tumour probability moves at most "
                     f"{limits['class_stain_shift_max']:g} toward that class",
            f"the other class's stain: {fmt_interval(toward)} toward it on {units} {noun}", "stain",
            value=toward.mean, interval=toward.ci95, limit=limits["class_stain_shift_max"],
            direction="at_most", units=units, more=more_evaluated(noun)))
    return parts


def _model_check(stain: StainRobustness) -> Check:
    parts = _model_parts(stain)
    outcome = combine([part.outcome for part in parts])
    measured = "; ".join(part.measured for part in parts)
    if stain.class_stain is None and _limits(stain).get("class_stain_shift_max") is not None:
        measured += "; the other class's stain: the data hold one class only"
    return Check("Model decision under a stain change", "; ".join(part.claim for part in parts), measured, outcome,
                 "stain", gate="stain",
                 decide="; ".join(part.decide for part in parts if part.outcome == INCONCLUSIVE and part.decide))


def _method_condition(stain: StainRobustness) -> str:
    limits = _limits(stain)
    return (f"under each condition that barely changed the decision (flip rate at most "
            f"{limits.get('stable_flip_rate', STABLE_FLIP_RATE):g}, mean |change in tumour probability| at "
            f"most {limits.get('stable_probability_change', STABLE_PROBABILITY_CHANGE):g}), mean Spearman of "
            f"the maps with the original maps at least {limits.get('map_spearman_min', MAP_SPEARMAN_MIN):g}")


def map_part(stain: StainRobustness, condition: StainCondition, name: str) -> Check | None:
    """Method ``name``'s claim under one stain condition, decided by its Spearman interval; ``None`` where the
    condition changed the decision (the rule does not apply: a map may follow a decision that moved)."""
    if not condition.decision_stable:
        return None
    images = int(stain.images or 0)
    method = condition.methods.get(name)
    similarity = None if method is None else method.spearman
    return interval_check(
        name, _method_condition(stain), f"{condition.title}: {fmt_interval(similarity, 2)}", "stain",
        value=None if similarity is None else similarity.mean, interval=None if similarity is None else similarity.ci95,
        limit=_limits(stain).get("map_spearman_min", MAP_SPEARMAN_MIN), direction="at_least",
        units=images, more=lambda k: f"about {k} stain patches: --stain-images {k}")


def _method_check(document: ReportDocument, stain: StainRobustness, name: str) -> Check:
    """Does method ``name`` explain the decision, not the stain: under every condition that barely changed the
    decision, its maps' mean Spearman with the original maps is at least the limit, by its interval."""
    parts, texts = [], []
    for record in stain.conditions.values():
        part = map_part(stain, record, name)
        if part is None:
            texts.append(f"{record.title}: decision changed")
        else:
            parts.append(part)
            texts.append(part.measured)
    outcome = combine([part.outcome for part in parts])
    decide = ""
    if outcome == INCONCLUSIVE:
        decide = ("; ".join(dict.fromkeys(part.decide for part in parts if part.outcome == INCONCLUSIVE))
                  or "no stain condition left the decision unchanged, so the rule has nothing to compare")
    return Check(f"{method_title(document, name)}: explains the decision, not the stain", _method_condition(stain),
                 f"{'; '.join(texts)} on {stain.images} patches", outcome, "stain", gate="stain", method=name,
                 column="stain", decide=decide)


def checks(document: ReportDocument) -> list[Check]:
    """The model's check (its decision under the stain changes its rule reads) and each method's (does it explain
    the decision, not the stain?), each decided by its intervals."""
    stain = document.stain_robustness
    if stain is None:
        return []
    return [_model_check(stain), *(_method_check(document, stain, name) for name in document.methods)]


def findings(document: ReportDocument) -> list[Finding]:
    """A model that decides by stain and a method that explains the stain (high, read from their checks), a
    deletion verdict that changes with the stain (medium), and patches Macenko normalisation could not change
    (low)."""
    stain = document.stain_robustness
    if stain is None:
        return []
    found = []
    for part in _model_parts(stain):
        if part.outcome != FAIL:
            continue
        found.append(Finding(
            "high", f"The decision of the model depends on stain: {part.measured}, against its claim, "
            f"{part.claim}. A change of the stain alone, the tissue kept, moves its decisions, so they are "
            "unlikely to hold on slides stained elsewhere, and may rest on a stain that travels with the label."))
    for name in document.methods:
        check = _method_check(document, stain, name)
        if check.outcome == FAIL:
            found.append(Finding(
                "high", f"{method_title(document, name)} explains the stain, not the decision of the model: "
                f"{check.measured}; the decision barely changed but its maps did (the mean Spearman with the "
                f"maps on the original patches lies below the limit).", name))
    for condition in stain.conditions.values():
        for name, record in condition.methods.items():
            if not record.verdict_changed:
                continue
            original = stain.original_verdicts.get(name)
            before = None if original is None else original.outcome
            after = record.verdict.outcome
            found.append(Finding(
                "medium", f"The deletion AUC verdict of {method_title(document, name)} against the random map "
                f"changes under {condition.title}: {OUTCOME_WORDS.get(before, before)} on the original patches, "
                f"{OUTCOME_WORDS.get(after, after)} on the perturbed ones.", name))
    for condition in stain.conditions.values():
        if condition.unchanged:
            found.append(Finding(
                "low", f"{condition.title} left {condition.unchanged} of {stain.images} stain "
                f"patches unchanged ({', '.join(condition.unchanged_patches or [])}): too little tissue to "
                "estimate their stain."))
    return found
