"""The faithfulness section's judgement: each method against the reference maps by the verdict rule.

A claim is decided by the verdict rule (:mod:`reportgen.metrics.verdicts`; docs/metrics.md, "Verdicts"),
never by comparing two means; the sentences here read those outcomes.
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
    find_verdict,
    headline_mean,
    loses_to_random,
    method_title,
    unit_noun,
)

#: The table's short names of the reference maps and of the verdict outcomes.
_REFERENCE_NAMES = {"random": "random", "centre_prior": "centre prior", "sobel": "Sobel"}
_SHORT_OUTCOMES = {"better": "better", "worse": "worse", "not_distinguishable": "not distinguishable",
                   "too_few": "too few to decide"}


def checks(document: dict) -> list[Check]:
    """One check per method and metric: better than every reference map by the verdict rule.

    FAIL when the method is not better than the random map (decided), PASS when it is better than every
    reference map, WARN otherwise.  The ``beats_random_failed`` gate holds on any verdict against the random
    map other than "better".
    """
    alpha = (document.get("settings") or {}).get("alpha", 0.05)
    references = [name for name in ("random", *MODEL_INDEPENDENT) if name in (document.get("baselines") or {})]
    condition = (f"better than the {', '.join(_REFERENCE_NAMES.get(r, r) for r in references)} map"
                 f"{'s' if len(references) > 1 else ''} (Wilcoxon, Holm, alpha {alpha:g})")
    found = []
    for name in document.get("methods") or {}:
        lost = loses_to_random(document, name)
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
            loses = kind in lost
            found.append(Check(f"{method_title(document, name)}: faithfulness by {METRIC_LABELS[kind]}", condition,
                               measured, outcome, "faithfulness", gate="beats_random_failed", gate_holds=loses,
                               gate_details=(f"{name} ({kind})",) if loses else ()))
    return found


def rank_methods(document: dict, kind: str) -> list[str]:
    """Method names best-first by headline mean AUC for ``kind``; ties keep the document's order."""
    key, direction = DIRECTIONS[kind]
    methods = document.get("methods") or {}
    scored = [(name, headline_mean(record, key).get("mean")) for name, record in methods.items()]
    scored = [(name, mean) for name, mean in scored if mean is not None]
    sign = 1.0 if direction == "lower" else -1.0
    return [name for name, _ in sorted(scored, key=lambda item: sign * item[1])]


def most_faithful(document: dict, kind: str) -> dict[str, Any] | None:
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
    record = headline_mean(document["methods"][best], key)
    result = {
        "method": best, "title": method_title(document, best), "metric": key, "direction": direction,
        "mean": float(record["mean"]), "ci95": [float(v) for v in record.get("ci95", [record["mean"]] * 2)],
        "runner_up": None, "runner_up_title": None, "outcome": None, "p_holm": None, "significant": False,
    }
    if len(ranking) > 1:
        runner_up = ranking[1]
        verdict = find_verdict(document, best, runner_up, key) or {}
        result.update(runner_up=runner_up, runner_up_title=method_title(document, runner_up),
                      outcome=verdict.get("outcome"), p_holm=verdict.get("p_holm"),
                      significant=verdict.get("outcome") == "better")
    return result


def _interval(values: list[float]) -> str:
    return f"[{values[0]:.3f}, {values[1]:.3f}]"


def _informative_count(document: dict, kind: str) -> str:
    counts = (document.get("informative") or {}).get(INFORMATIVE_OF[kind]) or {}
    return f" on {counts['count']} of {counts['of']} informative patches" if counts else ""


def _faithfulness_sentence(document: dict, kind: str, best: dict) -> str:
    sentence = (f"By {METRIC_LABELS[kind]}{_informative_count(document, kind)} ({best['direction']} is better) the best mean "
                f"is that of {best['title']} ({best['mean']:.3f} {_interval(best['ci95'])})")
    if best["runner_up"] is None:
        return sentence + "; it is the only method."
    if best["outcome"] is None:
        return sentence + f"; its difference to {best['runner_up_title']} was not tested."
    if best["outcome"] == "too_few":
        return sentence + f"; against {best['runner_up_title']} there is too little evidence to decide."
    words = "it is better than" if best["outcome"] == "better" else "it is not distinguishable from"
    return sentence + f"; {words} {best['runner_up_title']} (one-sided Wilcoxon, Holm p = {best['p_holm']:.3g})."


def _evidence(verdict: dict) -> str:
    median, low, high = verdict.get("median_difference"), *(verdict.get("ci95") or [None, None])
    parts = [OUTCOME_WORDS.get(verdict.get("outcome"), str(verdict.get("outcome")))]
    if verdict.get("outcome") == "too_few":
        parts.append(f"{verdict.get('n')} non-zero differences, {verdict.get('needed')} needed")
    else:
        if verdict.get("p_holm") is not None:
            parts.append(f"Holm p = {verdict['p_holm']:.3g}")
        if median is not None and low is not None and high is not None:
            parts.append(f"median difference {median:+.3f} [{low:+.3f}, {high:+.3f}]")
        parts.append(f"{len(verdict.get('patches') or [])} informative patches")
        if verdict.get("unit") == "slide":
            parts.append(f"{verdict.get('slides')} slides")
    return "; ".join(parts)


def reference_findings(document: dict) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(headlines, warnings) as ``(method name, sentence)`` pairs, from every method's verdicts against the
    reference maps: a method not better than a map ignoring the model (centre prior, Sobel edges) is a
    headline; not better than the random map is a warning."""
    headlines, warnings = [], []
    for name in document.get("methods") or {}:
        title = method_title(document, name)
        for kind, (key, _) in DIRECTIONS.items():
            for reference in ("random", *MODEL_INDEPENDENT):
                verdict = find_verdict(document, name, reference, key)
                # Undecidable claims are said once per metric (:func:`undecided_sentences`).
                if verdict is None or verdict.get("outcome") in ("better", "too_few"):
                    continue
                phrase = REFERENCE_PHRASES.get(reference, method_title(document, reference))
                label = METRIC_LABELS[kind]
                if reference == "random":
                    warnings.append((name, f"{title} is not better than {phrase} on {label} ({_evidence(verdict)})."))
                else:
                    headlines.append((name, f"{title} is not better than {phrase}, a map that ignores the model, on "
                                            f"{label} ({_evidence(verdict)})."))
    return headlines, warnings


def undecided_sentences(document: dict) -> list[str]:
    """One sentence per metric whose claims have too few informative patches to be decided."""
    sentences = []
    for kind, (key, _) in DIRECTIONS.items():
        undecided = [v for v in document.get("verdicts") or [] if v.get("metric") == key and v.get("outcome") == "too_few"]
        if not undecided:
            continue
        counts = (document.get("informative") or {}).get(INFORMATIVE_OF[kind]) or {}
        total = sum(1 for v in document.get("verdicts") or [] if v.get("metric") == key)
        first = undecided[0]
        have = (f"the {counts.get('count', 'too few')} informative patches come from {first.get('slides')} slides"
                if first.get("unit") == "slide" else
                f"{counts.get('count', 'too few')} of {counts.get('of', '?')} patches are informative")
        sentences.append(
            f"{len(undecided)} of {total} claims on {METRIC_LABELS[kind]} cannot be decided: each needs at least "
            f"{first.get('needed')} {unit_noun(first)} with a non-zero difference, and "
            f"{have}.")
    return sentences


def power_sentences(document: dict) -> list[str]:
    """Per metric: what its claims could detect with the patches used, and what a 0.05 difference would need."""
    sentences = []
    for kind, (key, _) in DIRECTIONS.items():
        claims = [v for v in document.get("verdicts") or [] if v.get("metric") == key]
        detectable = [v["detectable_difference"] for v in claims if v.get("detectable_difference") is not None]
        needed = [v["patches_for_target"] for v in claims if v.get("patches_for_target") is not None]
        if not detectable:
            continue
        count = len(claims[0].get("patches") or [])
        used = (f"{claims[0].get('slides')} slides ({count} informative patches)" if claims[0].get("unit") == "slide"
                else f"{count} informative patches")
        sentence = (f"With {used} for {METRIC_LABELS[kind]} a claim finds a mean difference of about "
                    f"{statistics.median(detectable):.3f} with 80 % power (median over its {len(claims)} claims, "
                    "at the strictest Holm level)")
        if needed:
            sentence += (f"; a difference of 0.05 would need about {statistics.median(needed):.0f} "
                         f"{unit_noun(claims[0])}")
        sentences.append(sentence + ".")
    return sentences


def findings(document: dict) -> list[Finding]:
    """A method not better than the random map (high)."""
    return [Finding("high", text, name) for name, text in reference_findings(document)[1]]


def summary_sentences(document: dict) -> tuple[dict[str, dict | None], list[str]]:
    """(the best method per metric, the summary's faithfulness sentences)."""
    best = {kind: most_faithful(document, kind) for kind in DIRECTIONS}
    sentences = []
    if best["deletion"] and best["insertion"] and best["deletion"]["method"] == best["insertion"]["method"]:
        sentences.append(f"{best['deletion']['title']} has the best mean by both deletion and insertion AUC.")
    sentences.extend(_faithfulness_sentence(document, kind, record) for kind, record in best.items() if record)
    sentences.extend(text for _, text in reference_findings(document)[0])
    sentences.extend(undecided_sentences(document))
    sentences.extend(power_sentences(document))
    if not any(best.values()):
        sentences.append("No explanation method was scored.")
    return best, sentences
