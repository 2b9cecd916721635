"""The report's "Stain robustness" section, from the document's ``stain_robustness`` record.

Sentences read the outcomes and flags the document already holds (decided in
:mod:`reportgen.pipeline.stain_section`); nothing here tests or thresholds a number.
"""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.formatting import fmt_interval
from reportgen.judgement.reading import OUTCOME_WORDS, method_title, page_one_rows
from reportgen.judgement.rule import FAIL, PASS
from reportgen.judgement.stain import map_part, model_stain_conditions
from reportgen.schema import Check as CheckRecord
from reportgen.schema import ClassStain, ReportDocument, StainCondition, StainRobustness, Verdict


@dataclass(frozen=True)
class StainConditionRow:
    """One stain condition: how strong it was and what it did to the model's decision."""

    title: str
    description: str
    rgb_change: str
    unchanged: str
    flip_rate: str
    probability_change: str
    abs_probability_change: str
    decision: str


@dataclass(frozen=True)
class StainMethodRow:
    """One method under one stain condition: its maps against the original maps, and its deletion verdict."""

    condition: str
    method: str
    spearman: str
    iou: str
    verdict: str
    #: "yes", "no", or why the rule does not apply; ``flagged`` when it is "yes".
    explains: str
    flagged: bool


@dataclass(frozen=True)
class ClassStainRow:
    """One class of the other-class stain test: its patches, median stain amounts, and what the donor's stain did."""

    label: str
    patches: str
    haematoxylin: str
    eosin: str


@dataclass(frozen=True)
class ClassStainView:
    """The other class's stain: per class rows, then the model's response over all the patches."""

    description: str
    classes: list[ClassStainRow]
    flip_rate: str
    toward_donor: str


@dataclass(frozen=True)
class StainView:
    """The stain robustness section: plain sentences first, then the tables and the rules behind them."""

    images: str
    findings: list[str]
    conditions: list[StainConditionRow]
    methods: list[StainMethodRow]
    rules: list[str]
    class_stain: ClassStainView | None = None
    #: The patches the model's decisions are measured on, in words ("1024 evaluated patches from 32 slides").
    model_patches: str = ""


def _outcome(verdict: Verdict | None) -> str:
    return OUTCOME_WORDS.get(None if verdict is None else verdict.outcome, "n/a")


def _condition_sentence(condition: StainCondition) -> str:
    decision = "barely changed the decision" if condition.decision_stable else "changed the decision"
    return (f"{condition.title} {decision}: {fmt_interval(condition.flip_rate, 2)} of the predictions "
            f"changed class, and the tumour probability moved by {fmt_interval(condition.probability_change)} "
            f"on average ({fmt_interval(condition.abs_probability_change)} in absolute value).")


def _class_stain_view(record: ClassStain | None) -> ClassStainView | None:
    if record is None:
        return None
    counts, amounts = record.class_patches, record.class_amounts
    classes = [ClassStainRow(label=label, patches=str(counts.get(label, 0)),
                             haematoxylin=f"{(amounts.get(label) or {}).get('haematoxylin', float('nan')):.4f}",
                             eosin=f"{(amounts.get(label) or {}).get('eosin', float('nan')):.4f}")
               for label in ("normal", "tumour")]
    description = str(record.description)
    return ClassStainView(description=description[:1].upper() + description[1:], classes=classes,
                          flip_rate=fmt_interval(record.flip_rate, 2),
                          toward_donor=fmt_interval(record.toward_donor))


def _class_stain_sentence(record: ClassStain | None) -> str:
    if record is None:
        return ("The evaluated patches hold one class only, so the model could not be given the other class's "
                "stain.")
    return (f"Given the stain amounts of a patch of the other class, the tumour probability moved "
            f"{fmt_interval(record.toward_donor)} toward that class on average over {record.patches} "
            f"evaluated patches, and {fmt_interval(record.flip_rate, 2)} of the predictions changed class.")


def _explains(stain: StainRobustness, condition: StainCondition, name: str) -> str:
    """The stain rule's reading of one method under one condition: "yes" (its interval lies wholly below the
    limit), "no" (wholly at or above it), "undecided", or why the rule does not apply."""
    part = map_part(stain, condition, name)
    if part is None:
        return "rule does not apply: the decision changed"
    return {FAIL: "yes", PASS: "no"}.get(part.outcome, "undecided")


def _model_patches(stain: StainRobustness) -> str:
    """The model-level checks' patches in words; a document written before they existed read the stain patches."""
    if stain.model_patches is None:
        return f"{stain.images} stain patches"
    slides = stain.model_slides
    return f"{stain.model_patches} evaluated patches" + ("" if slides is None else f" from {slides} slides")


def stain_view(document: ReportDocument) -> StainView | None:
    """The section's view, or ``None`` when the document has no stain record (``--stain-images 0``)."""
    stain = document.stain_robustness
    if stain is None:
        return None
    conditions = stain.conditions
    limit = stain.thresholds.get("model_flip_rate_max")
    limit_of_class_stain = stain.thresholds.get("class_stain_shift_max")
    measured = " and ".join(f"{fmt_interval(condition.flip_rate, 2)} under {condition.title}"
                            for condition in model_stain_conditions(stain))
    model_patches = _model_patches(stain)
    outcomes: dict[str, CheckRecord] = {row.check: row for row in page_one_rows(document, "stain")}
    model_row = outcomes.get("Model decision under a stain change")
    findings = [f"The model's decision under a stain change: {model_row.outcome.upper()} by the rule below; of its "
                f"predictions on {model_patches}, {measured} change class (the limit is {limit:g})."
                if model_row else f"Of the model's predictions on {model_patches}, {measured} change class."]
    if limit_of_class_stain is not None:  # a document written before the rule existed has no such record
        findings.append(_class_stain_sentence(stain.class_stain))
    findings += [_condition_sentence(condition) for condition in conditions.values()]
    method_rows = [row for row in outcomes.values() if row.method]
    if method_rows:
        findings.append("Each method by the rule below: " + "; ".join(
            f"{method_title(document, row.method)} {row.outcome.upper()}" for row in method_rows) + ".")
    if not any(condition.decision_stable for condition in conditions.values()):
        findings.append("The decision changed under every condition, so the rule below cannot tell whether a "
                        "method explains the stain: a map may follow a decision that moved.")
    original = stain.original_verdicts
    changed = [(condition, name) for condition in conditions.values()
               for name, record in condition.methods.items() if record.verdict_changed]
    if changed:
        findings += [f"{method_title(document, name)}'s deletion verdict against the random map changes under "
                     f"{condition.title}: {_outcome(original.get(name))} on the original patches, "
                     f"{_outcome(condition.methods[name].verdict)} on the perturbed ones."
                     for condition, name in changed]
    else:
        words = sorted({_outcome(v) for v in original.values()})
        findings.append(f"No deletion verdict against the random map changes with the stain (on the original "
                        f"patches: {', '.join(words) or 'n/a'}; {stain.original_informative} of "
                        f"{stain.images} patches are informative).")
    rows = []
    for condition in conditions.values():
        unchanged = condition.unchanged
        rows.append(StainConditionRow(
            title=str(condition.title), description=str(condition.description),
            rgb_change=fmt_interval(condition.rgb_change),
            unchanged=f"{unchanged} ({', '.join(condition.unchanged_patches)})" if unchanged else "none",
            flip_rate=fmt_interval(condition.flip_rate, 2),
            probability_change=fmt_interval(condition.probability_change),
            abs_probability_change=fmt_interval(condition.abs_probability_change),
            decision="barely changed" if condition.decision_stable else "changed"))
    methods = []
    for condition in conditions.values():
        for name, record in condition.methods.items():
            verdict = _outcome(record.verdict)
            before = _outcome(original.get(name))
            explains = _explains(stain, condition, name)
            methods.append(StainMethodRow(
                condition=str(condition.title), method=method_title(document, name),
                spearman=fmt_interval(record.spearman, 2), iou=fmt_interval(record.iou_top10, 2),
                verdict=verdict if verdict == before else f"{before} \u2192 {verdict}",
                explains=explains, flagged=explains == "yes"))
    rules = [str(stain.method_rule), str(stain.model_rule), str(stain.family), f"Seeds: {stain.seed_rule}."]
    return StainView(images=str(stain.images), findings=findings, conditions=rows, methods=methods,
                     rules=[rule for rule in rules if rule], class_stain=_class_stain_view(stain.class_stain),
                     model_patches=_model_patches(stain))
