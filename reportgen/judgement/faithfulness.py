"""The faithfulness section's judgement: each method against the reference maps by the verdict rule.

A claim is decided by the verdict rule (:mod:`reportgen.metrics.verdicts`; docs/metrics.md, "Verdicts"),
never by comparing two means; the sentences here read those outcomes.  Page one's faithfulness check of a
method reads its primary claims only (:data:`reportgen.metrics.verdicts.PRIMARY_CLAIMS`: better than the
random map by deletion AUC and by SRG), the claims fixed in advance as the ones page one rests on
(docs/judgement.md#the-claims-page-one-rests-on); the secondary claims are reported in the section.
"""

from __future__ import annotations

import statistics
from typing import Any

from reportgen.judgement.check import Check, Finding
from reportgen.judgement.reading import (
    DIRECTIONS,
    INFORMATIVE_OF,
    METRIC_LABELS,
    MODEL_INDEPENDENT,
    OUTCOME_WORDS,
    REFERENCE_PHRASES,
    explained_count,
    find_verdict,
    headline_mean,
    method_title,
    unit_noun,
)
from reportgen.judgement.rule import FAIL, INCONCLUSIVE, PASS, combine, scaled_images
from reportgen.metrics.verdicts import PRIMARY_CLAIMS, TARGET_DIFFERENCE
from reportgen.schema import ReportDocument, Verdict

#: How a claim's metric key reads in a sentence.
_KEY_LABELS = {key: METRIC_LABELS[kind] for kind, (key, _) in DIRECTIONS.items()}


def primary_verdicts(document: ReportDocument, name: str) -> list[Verdict]:
    """Method ``name``'s primary claims (:data:`~reportgen.metrics.verdicts.PRIMARY_CLAIMS`) that the report
    holds, in that order."""
    found = (find_verdict(document, name, against, metric) for against, metric in PRIMARY_CLAIMS)
    return [verdict for verdict in found if verdict is not None]


def primary_outcome(verdicts: list[Verdict]) -> str:
    """The rule on a method's primary claims: PASS when every one is better than the random map, FAIL when any
    is worse, otherwise INCONCLUSIVE."""
    return combine([{"better": PASS, "worse": FAIL}.get(verdict.outcome, INCONCLUSIVE) for verdict in verdicts])


def what_would_decide(document: ReportDocument, verdicts: list[Verdict]) -> str:
    """For undecided primary claims: how many units the rule needs, and the ``--images`` that gives about that.

    A claim with too few units needs the family's minimum (:func:`reportgen.metrics.verdicts.minimum_pairs`);
    one that is not distinguishable needs about as many units as detect a difference of 0.05 with 80 % power
    (``patches_for_target``).  Units are slides with informative patches where slide ids exist, and the
    ``--images`` figure scales this run's explained patches by the units wanted over the units it got.
    """
    images = explained_count(document)
    wanted, powered = [], []
    for verdict in verdicts:
        have = int(verdict.slides if verdict.unit == "slide" else len(verdict.patches or []))
        if verdict.outcome == "too_few":
            wanted.append((int(verdict.needed or 0), have, verdict))
        elif verdict.outcome == "not_distinguishable" and verdict.patches_for_target:
            if int(verdict.patches_for_target) > have:
                wanted.append((int(verdict.patches_for_target), have, verdict))
            else:
                powered.append(verdict)
    if not wanted:
        # The test had the power to find a difference of TARGET_DIFFERENCE and found none: only a smaller
        # difference is left to decide, and it needs more units than the power figure says.
        return "; ".join(f"{_KEY_LABELS.get(v.metric, v.metric)}: no difference of "
                         f"{TARGET_DIFFERENCE:g} or more was found on {v.slides or len(v.patches or [])} "
                         f"{unit_noun(v)}; a smaller one would need many more" for v in powered)
    need, have, verdict = max(wanted, key=lambda item: scaled_images(images, item[1], item[0]))
    more = scaled_images(images, have, need)
    return (f"about {need} {unit_noun(verdict)} (this run has {have}): explain about {more} patches, "
            f"--images {more}")


def _claim_text(verdict: Verdict) -> str:
    text = f"{_KEY_LABELS.get(verdict.metric, verdict.metric)}: {OUTCOME_WORDS.get(verdict.outcome, verdict.outcome)}"
    if verdict.p_holm is not None and verdict.outcome != "too_few":
        text += f" (Holm p = {verdict.p_holm:.2g})"
    return text


def checks(document: ReportDocument) -> list[Check]:
    """One check per method: its primary claims, better than the random map by deletion AUC and by SRG."""
    found = []
    for name in document.methods:
        verdicts = primary_verdicts(document, name)
        if not verdicts:
            continue
        first = verdicts[0]
        units = f"{first.slides} slides" if first.unit == "slide" else f"{len(first.patches or [])} patches"
        condition = (f"better than the random map by {' and by '.join(_KEY_LABELS[m] for _, m in PRIMARY_CLAIMS)} "
                     f"(Wilcoxon signed-rank, Holm over the primary claims at alpha {first.level:.2g})")
        measured = "; ".join(_claim_text(verdict) for verdict in verdicts) + f"; {units} with informative patches"
        outcome = primary_outcome(verdicts)
        found.append(Check(f"{method_title(document, name)}: faithful to the model", condition, measured, outcome,
                           "faithfulness", gate="beats_random", method=name, column="faithfulness",
                           decide=what_would_decide(document, verdicts) if outcome == INCONCLUSIVE else ""))
    return found


def rank_methods(document: ReportDocument, kind: str) -> list[str]:
    """Method names best-first by headline mean AUC for ``kind``; ties keep the document's order."""
    key, direction = DIRECTIONS[kind]
    scored = [(name, headline_mean(record, key).mean) for name, record in document.methods.items()]
    scored = [(name, mean) for name, mean in scored if mean is not None]
    sign = 1.0 if direction == "lower" else -1.0
    return [name for name, _ in sorted(scored, key=lambda item: sign * item[1])]


def most_faithful(document: ReportDocument, kind: str) -> dict[str, Any] | None:
    """The method with the best headline mean for ``kind``, and its verdict against the runner-up.

    Returns
    -------
    dict or None
        ``{"method", "title", "metric", "direction", "mean", "ci95", "runner_up", "runner_up_title",
        "outcome", "p_holm", "significant"}`` (``significant``: the verdict is ``better``); ``None``
        when no method has the metric.
    """
    key, direction = DIRECTIONS[kind]
    ranking = rank_methods(document, kind)
    if not ranking:
        return None
    best = ranking[0]
    record = headline_mean(document.methods[best], key)
    result = {
        "method": best, "title": method_title(document, best), "metric": key, "direction": direction,
        "mean": float(record.mean), "ci95": [float(v) for v in record.ci95],
        "runner_up": None, "runner_up_title": None, "outcome": None, "p_holm": None, "significant": False,
    }
    if len(ranking) > 1:
        runner_up = ranking[1]
        verdict = find_verdict(document, best, runner_up, key)
        outcome = None if verdict is None else verdict.outcome
        result.update(runner_up=runner_up, runner_up_title=method_title(document, runner_up), outcome=outcome,
                      p_holm=None if verdict is None else verdict.p_holm, significant=outcome == "better")
    return result


def _interval(values: list[float]) -> str:
    return f"[{values[0]:.3f}, {values[1]:.3f}]"


def _informative_count(document: ReportDocument, kind: str) -> str:
    counts = getattr(document.informative, INFORMATIVE_OF[kind])
    return "" if counts is None else f" on {counts.count} of {counts.of} informative patches"


def _faithfulness_sentence(document: ReportDocument, kind: str, best: dict) -> str:
    sentence = (f"By {METRIC_LABELS[kind]}{_informative_count(document, kind)} ({best['direction']} is better) the best mean "
                f"is that of {best['title']} ({best['mean']:.3f} {_interval(best['ci95'])})")
    if best["runner_up"] is None:
        return sentence + "; it is the only method."
    if best["outcome"] is None:
        return sentence + f"; its difference to {best['runner_up_title']} was not tested."
    if best["outcome"] == "too_few":
        return sentence + f"; against {best['runner_up_title']} there is too little evidence to decide."
    words = "it is better than" if best["outcome"] == "better" else "it is not distinguishable from"
    return sentence + f"; {words} {best['runner_up_title']} (Wilcoxon, Holm p = {best['p_holm']:.3g})."


def _evidence(verdict: Verdict) -> str:
    median, low, high = verdict.median_difference, *(verdict.ci95 or [None, None])
    parts = [OUTCOME_WORDS.get(verdict.outcome, str(verdict.outcome))]
    if verdict.outcome == "too_few":
        parts.append(f"{verdict.n} non-zero differences, {verdict.needed} needed")
    else:
        if verdict.p_holm is not None:
            parts.append(f"Holm p = {verdict.p_holm:.3g}")
        if median is not None and low is not None and high is not None:
            parts.append(f"median difference {median:+.3f} [{low:+.3f}, {high:+.3f}]")
        parts.append(f"{len(verdict.patches or [])} informative patches")
        if verdict.unit == "slide":
            parts.append(f"{verdict.slides} slides")
    return "; ".join(parts)


def reference_findings(document: ReportDocument) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(headlines, warnings) as ``(method name, sentence)`` pairs, from every method's verdicts against the
    reference maps: a method decided worse than a map ignoring the model (centre prior, Sobel edges) is a
    headline; one decided worse than the random map, or not distinguishable from it on a primary claim, is a
    warning."""
    headlines, warnings = [], []
    for name in document.methods:
        title = method_title(document, name)
        for kind, (key, _) in DIRECTIONS.items():
            for reference in ("random", *MODEL_INDEPENDENT):
                verdict = find_verdict(document, name, reference, key)
                if verdict is None:
                    continue
                outcome, primary = verdict.outcome, verdict.family == "primary"
                phrase = REFERENCE_PHRASES.get(reference, method_title(document, reference))
                label = METRIC_LABELS[kind]
                if reference == "random" and (outcome == "worse" or (primary and outcome == "not_distinguishable")):
                    warnings.append((name, f"{title} is {OUTCOME_WORDS[outcome]} "
                                           f"{'than' if outcome == 'worse' else 'from'} {phrase} on {label} "
                                           f"({_evidence(verdict)})."))
                elif reference != "random" and outcome == "worse":
                    headlines.append((name, f"{title} is worse than {phrase}, a map that ignores the model, on "
                                            f"{label} ({_evidence(verdict)})."))
    return headlines, warnings


def undecided_sentences(document: ReportDocument) -> list[str]:
    """One sentence per family and metric whose claims have too few informative units to be decided."""
    sentences = []
    for family in ("primary", "secondary"):
        for kind, (key, _) in DIRECTIONS.items():
            claims = [v for v in document.verdicts if v.metric == key and v.family == family]
            undecided = [v for v in claims if v.outcome == "too_few"]
            if not undecided:
                continue
            first = undecided[0]
            have = first.slides if first.unit == "slide" else len(first.patches or [])
            sentences.append(
                f"{len(undecided)} of the {len(claims)} {family} claims on {METRIC_LABELS[kind]} cannot be "
                f"decided: at level {first.level:.2g} each needs at least {first.needed} "
                f"{unit_noun(first)} with a non-zero difference, and this run has {have}.")
    return sentences


def power_sentences(document: ReportDocument) -> list[str]:
    """Per metric: what its claims could detect with the units used, and what a 0.05 difference would need."""
    sentences = []
    for kind, (key, _) in DIRECTIONS.items():
        claims = [v for v in document.verdicts if v.metric == key]
        detectable = [v.detectable_difference for v in claims if v.detectable_difference is not None]
        needed = [v.patches_for_target for v in claims if v.patches_for_target is not None]
        if not detectable:
            continue
        count = len(claims[0].patches or [])
        used = (f"{claims[0].slides} slides ({count} informative patches)" if claims[0].unit == "slide"
                else f"{count} informative patches")
        sentence = (f"With {used} for {METRIC_LABELS[kind]} a claim finds a mean difference of about "
                    f"{statistics.median(detectable):.3f} with 80 % power (median over its {len(claims)} claims, "
                    "at the strictest Holm level of its family)")
        if needed:
            sentence += (f"; a difference of 0.05 would need about {statistics.median(needed):.0f} "
                         f"{unit_noun(claims[0])}")
        sentences.append(sentence + ".")
    return sentences


def findings(document: ReportDocument) -> list[Finding]:
    """A method worse than the random map (high), or not distinguishable from it on a primary claim (medium)."""
    return [Finding("high" if " worse " in text else "medium", text, name)
            for name, text in reference_findings(document)[1]]


def section_sentences(document: ReportDocument) -> list[str]:
    """The faithfulness section's reading of its verdicts: the best mean per metric with its test against the
    runner-up, the headlines against the model-independent maps, the undecided claims and the power."""
    best = {kind: most_faithful(document, kind) for kind in DIRECTIONS}
    sentences = [_faithfulness_sentence(document, kind, record) for kind, record in best.items() if record]
    sentences.extend(text for _, text in reference_findings(document)[0])
    sentences.extend(undecided_sentences(document))
    sentences.extend(power_sentences(document))
    return sentences
