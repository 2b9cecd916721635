"""The report's verdict and warnings in plain words, computed from the document.

The document producer calls :func:`summarise_findings` and stores the result in
``document["summary"]`` before rendering, so report.json carries the same words
as the HTML and a later run can tell which warnings are new.
"""

from __future__ import annotations

import statistics
from typing import Any

from reportgen.metrics.verdicts import CLAIM_METRICS
from reportgen.report.formatting import fmt_interval

LOW_ACCURACY = 0.8
# Share of a uniform map inside PCam's centre 32x32 region of a 96x96 patch (docs/metrics.md#localisation).
UNIFORM_CENTRE_MASS = 1024 / 9216
# A CAM with this many cells or fewer is coarse (docs/metrics.md#grad-cam: warn at 3x3 or smaller) ...
COARSE_CAM_CELLS = 9
#: A superpixel map with fewer superpixels than this (a 4x4 grid) is said to localise coarsely.
COARSE_SUPERPIXELS = 16
#: Pixels of a PCam patch (96 x 96) and of its centre label region (32 x 32).
PATCH_PIXELS, CENTRE_PIXELS = 96 * 96, 32 * 32
# ... and the next-finer block of the PCam ResNet-18 (6x6 at 96 px) is the one to compare.
FINER_CAM_LAYER = "backbone.layer3.1"
# Each claimed metric of the verdict rule (deletion and insertion: Petsiuk et al., RISE, BMVC 2018; SRG: Blücher
# et al., TMLR 2024) by its kind ("deletion", "insertion", "srg"): its key and which direction is better ...
DIRECTIONS = {key.removesuffix("_auc"): (key, "higher" if higher else "lower")
              for key, (_, higher) in CLAIM_METRICS.items()}
#: ... and whose informative patches it uses (SRG's two curves are deletion curves with deletion's ends).
INFORMATIVE_OF = {key.removesuffix("_auc"): mode for key, (mode, _) in CLAIM_METRICS.items()}
#: How a sentence names each metric, and the short name a table column uses.
METRIC_LABELS = {"deletion": "deletion AUC", "insertion": "insertion AUC", "srg": "SRG"}
SHORT_LABELS = {"deletion": "deletion", "insertion": "insertion", "srg": "SRG"}


def model_accuracy(document: dict) -> float | None:
    """Validation accuracy of the model: the evaluation's, else the checkpoint's ``val_accuracy``."""
    model = document.get("model") or {}
    evaluation = model.get("evaluation") or {}
    value = evaluation.get("accuracy", model.get("val_accuracy"))
    return None if value is None else float(value)


def method_title(document: dict, name: str) -> str:
    """Display title of a method or reference map, falling back to its registry name."""
    record = (document.get("methods") or {}).get(name) or (document.get("baselines") or {}).get(name) or {}
    return str(record.get("title") or name)


#: Reference maps that ignore the model: a method not better than one of these is a headline finding.
MODEL_INDEPENDENT = ("centre_prior", "sobel")
#: How a sentence names each reference map.
REFERENCE_PHRASES = {"random": "the random map", "centre_prior": "the centre prior", "sobel": "the Sobel edge map"}
_FLIPPED = {"better": "worse", "worse": "better"}
OUTCOME_WORDS = {"better": "better", "worse": "worse", "not_distinguishable": "not distinguishable",
                 "too_few": "too few informative patches to decide"}


def find_verdict(document: dict, method: str, against: str, metric: str) -> dict | None:
    """The verdict record of ``method`` against ``against`` by ``metric``, from ``method``'s side.

    A record stored the other way round (method pairs are stored once) comes
    back with its outcome and median difference flipped.
    """
    for record in document.get("verdicts") or []:
        if record.get("metric") != metric:
            continue
        if (record.get("method"), record.get("against")) == (method, against):
            return record
        if (record.get("method"), record.get("against")) == (against, method):
            flipped = dict(record, method=method, against=against,
                           outcome=_FLIPPED.get(record.get("outcome"), record.get("outcome")))
            if record.get("median_difference") is not None:
                flipped["median_difference"] = -record["median_difference"]
                flipped["ci95"] = [None if v is None else -v for v in reversed(record.get("ci95") or [None, None])]
            return flipped
    return None


def headline_mean(record: dict, key: str) -> dict:
    """A map's mean of ``key`` over the informative patches (mean ``None`` when no patch is informative)."""
    return ((record.get("informative") or {}).get(key)) or {}


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


def unit_noun(verdict: dict) -> str:
    """What a claim's test counted: "slides with informative patches" or "informative patches"."""
    return "slides with informative patches" if verdict.get("unit") == "slide" else "informative patches"


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


def reference_findings(document: dict, *, by_method: bool = False) -> tuple[list, list]:
    """(headline sentences, warnings) from every method's verdicts against the reference maps.

    A method that is not better than a map ignoring the model (centre prior,
    Sobel edges) is a headline; not better than the random map is a warning.
    With ``by_method`` each is a ``(method name, sentence)`` pair.
    """
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
                    sentence = f"{title} is not better than {phrase} on {label} ({_evidence(verdict)})."
                    warnings.append((name, sentence) if by_method else sentence)
                else:
                    sentence = (f"{title} is not better than {phrase}, a map that ignores the model, on "
                                f"{label} ({_evidence(verdict)}).")
                    headlines.append((name, sentence) if by_method else sentence)
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


def loses_to_random(document: dict, name: str) -> list[str]:
    """The metrics ("deletion", "insertion", "srg") on which method ``name`` is not better than the random map."""
    lost = []
    for kind, (key, _) in DIRECTIONS.items():
        verdict = find_verdict(document, name, "random", key)
        if verdict is not None and verdict.get("outcome") != "better":
            lost.append(kind)
    return lost


def coarse_cam_layer(settings: dict) -> str | None:
    """The target layer of a CAM method whose feature map is 3x3 or smaller, else None.

    ``settings`` is a method's ``settings`` record; ``feature_map_size`` is "HxW"
    (reportgen.explain._cam). At 96 px, ResNet-18's last block is 3x3 and every
    cell's receptive field covers the whole patch, so whether its cells follow
    the evidence depends on the trained weights, not on the method.
    """
    layer, size = settings.get("target_layer"), str(settings.get("feature_map_size") or "")
    try:
        height, width = (int(part) for part in size.split("x"))
    except ValueError:
        return None
    return str(layer) if layer and height * width <= COARSE_CAM_CELLS else None


def coarse_superpixels(record: dict) -> str | None:
    """A sentence (with ``{title}`` for the method's name) when a superpixel method's maps are too coarse.

    ``record`` is a method's record; its ``extras.n_superpixels.per_image``
    holds each patch's superpixel count (LIME, KernelSHAP).  The map cannot
    be finer than its superpixels, so with fewer than :data:`COARSE_SUPERPIXELS`
    (median over the patches) an average superpixel is about as large as the
    centre region that decides the label, or larger.
    """
    counts = [value for value in (((record.get("extras") or {}).get("n_superpixels") or {}).get("per_image") or [])
              if value is not None]
    if not counts:
        return None
    median = statistics.median(counts)
    if median >= COARSE_SUPERPIXELS:
        return None
    size = PATCH_PIXELS / median
    return (f"{{title}} divides a patch into only {median:g} superpixels (median over the patches; {min(counts):g} "
            f"to {max(counts):g}), so its map cannot localise finer than that: an average superpixel "
            f"({size:.0f} pixels) is {size / CENTRE_PIXELS:.1f} times the centre 32x32 region that decides the label.")


def sanity_outcome(record: dict) -> str:
    """``passed``, ``inconclusive`` or ``failed``: the outcome the sanity check's rule gave a map."""
    return str(record.get("outcome") or ("passed" if record.get("passed") is True else "failed"))


def sanity_not_passed(document: dict) -> dict[str, str]:
    """Methods the sanity check did not pass -> their outcome (``failed`` or ``inconclusive``).

    The rule (``reportgen.metrics.sanity.decide``): a method passes only when the 95 % interval of
    its mean final similarity lies below the threshold; an inconclusive check is no evidence that
    the maps depend on the model, so it does not pass either.
    """
    methods = ((document.get("sanity") or {}).get("methods")) or {}
    return {name: sanity_outcome(record) for name, record in methods.items() if sanity_outcome(record) != "passed"}


def untrusted_controls(document: dict) -> dict[str, str]:
    """Positive controls (model-independent maps) the check did not fail -> their outcome.

    Any entry means the check cannot tell a model-independent map from an honest one in this
    report, so none of its outcomes can be trusted.
    """
    controls = ((document.get("sanity") or {}).get("controls")) or {}
    return {name: sanity_outcome(record) for name, record in controls.items() if sanity_outcome(record) != "failed"}


def sanity_evidence(record: dict) -> str:
    """``similarity 0.62 [0.41, 0.83]``: the mean final similarity and its 95 % interval."""
    final = record.get("final")
    text = "similarity " + ("n/a" if final is None else f"{float(final):.2f}")
    low, high = (record.get("ci95") or [None, None])[:2]
    if low is None or high is None:
        return f"{text}, no interval from {len(record.get('per_image_final') or [])} patch(es)"
    return f"{text} [{float(low):.2f}, {float(high):.2f}]"


def sanity_warnings(document: dict) -> list[dict[str, str]]:
    """One warning per control the check did not fail (high) and per method it did not pass (high when it
    failed, medium when inconclusive)."""
    sanity = document.get("sanity") or {}
    warnings = []
    for name, outcome in untrusted_controls(document).items():
        record = sanity["controls"][name]
        warnings.append(_warning("high", f"The sanity check's positive control, {method_title(document, name)}, "
                                 f"ignores the model by construction but was {outcome}, not failed "
                                 f"({sanity_evidence(record)}): the sanity check itself is not trustworthy in this "
                                 "report.", name))
    for name, outcome in sanity_not_passed(document).items():
        record = sanity["methods"][name]
        threshold = float(record.get("threshold", float("nan")))
        if outcome == "failed":
            warnings.append(_warning("high", f"{method_title(document, name)} failed the model-randomisation sanity "
                                     f"check ({sanity_evidence(record)} after randomising the network; the 95 % "
                                     f"interval is at or above {threshold:g}): its maps depend on the image more "
                                     "than on the model.", name))
        else:
            warnings.append(_warning("medium", f"The model-randomisation sanity check of "
                                     f"{method_title(document, name)} is inconclusive ({sanity_evidence(record)} "
                                     f"after randomising the network, on {len(record.get('per_image_final') or [])} "
                                     f"patches; the interval reaches {threshold:g}): there is no evidence that its "
                                     "maps depend on the model; more --sanity-images narrow the interval.", name))
    return warnings


def _share(record: dict | None) -> str:
    """An interval record's mean to two decimals, or n/a."""
    mean = (record or {}).get("mean")
    return "n/a" if mean is None else f"{float(mean):.2f}"


def model_stain_conditions(stain: dict | None) -> list[dict]:
    """The condition records the stain section's model-level rule reads (``model_conditions``), in its order."""
    conditions = (stain or {}).get("conditions") or {}
    return [conditions[name] for name in (stain or {}).get("model_conditions") or [] if name in conditions]


def _strength(condition: dict) -> str:
    return f" (s = {condition['strength']:g})" if condition.get("strength") is not None else ""


def stain_warnings(document: dict) -> list[dict[str, str | None]]:
    """Warnings from the stain robustness section: a model that decides by stain and a method that explains the
    stain (high, by the rules the section states), a deletion verdict that changes with the stain (medium), and
    patches Macenko normalisation could not change (low)."""
    stain = document.get("stain_robustness") or {}
    conditions, limits = stain.get("conditions") or {}, stain.get("thresholds") or {}
    warnings = []
    limit = limits.get("model_flip_rate_max")
    flipped = [condition for condition in model_stain_conditions(stain)
               if ((condition.get("flip_rate") or {}).get("mean") or 0.0) > (limit or 0.0)]
    if stain.get("model_depends_on_stain") and flipped:
        where = " and ".join(f"under {condition.get('title')}{_strength(condition)} "
                             f"{_share(condition.get('flip_rate'))}" for condition in flipped)
        warnings.append(_warning(
            "high", f"The decision of the model depends on stain: {where} of its predictions on {stain.get('images')} "
            f"patches change class, more than {limit:g}. A change of the stain alone, the tissue kept, moves its "
            "decisions, so they are unlikely to hold on slides stained elsewhere, and may rest on a stain that "
            "travels with the label."))
    class_stain = stain.get("class_stain") or {}
    if stain.get("model_depends_on_stain") and class_stain.get("follows_class_stain"):
        warnings.append(_warning(
            "high", f"The decision of the model follows a stain that travels with the label: given the stain "
            f"amounts of a patch of the other class, its tumour probability moves "
            f"{_share(class_stain.get('toward_donor'))} toward that class on average, over "
            f"{class_stain.get('patches')} evaluated patches (the limit is "
            f"{limits.get('class_stain_shift_max'):g}). Its decisions rest in part on how strongly a patch is "
            "stained, which in these data goes with the label, and will not hold where it does not.", None))
    for name in stain.get("explains_stain") or []:
        where = [f"{condition['title']} (flip rate {_share(condition.get('flip_rate'))}, mean |change in tumour "
                 f"probability| {_share(condition.get('abs_probability_change'))}, map Spearman "
                 f"{_share(condition['methods'][name].get('spearman'))})"
                 for condition in conditions.values()
                 if ((condition.get("methods") or {}).get(name) or {}).get("explains_stain")]
        warnings.append(_warning(
            "high", f"{method_title(document, name)} explains the stain, not the decision of the model: under "
            f"{' and '.join(where)}, the decision barely changed but its maps did (mean Spearman with the maps "
            f"on the original patches below {limits.get('map_spearman_min'):g}).", name))
    for condition in conditions.values():
        for name, record in (condition.get("methods") or {}).items():
            if not record.get("verdict_changed"):
                continue
            before = ((stain.get("original_verdicts") or {}).get(name) or {}).get("outcome")
            after = (record.get("verdict") or {}).get("outcome")
            warnings.append(_warning(
                "medium", f"The deletion AUC verdict of {method_title(document, name)} against the random map "
                f"changes under {condition.get('title')}: {OUTCOME_WORDS.get(before, before)} on the original patches, "
                f"{OUTCOME_WORDS.get(after, after)} on the perturbed ones.", name))
    for condition in conditions.values():
        if condition.get("unchanged"):
            warnings.append(_warning(
                "low", f"{condition.get('title')} left {condition['unchanged']} of {stain.get('images')} stain "
                f"patches unchanged ({', '.join(condition.get('unchanged_patches') or [])}): too little tissue to "
                "estimate their stain."))
    return warnings


#: Warning severities, most serious first, and what each means to the reader.
SEVERITIES = {
    "high": "a claim of this report fails or cannot be trusted",
    "medium": "limits what a claim means",
    "low": "for information",
}


def _warning(severity: str, text: str, method: str | None = None) -> dict[str, str | None]:
    """A warning record; ``method`` names the method or reference map it is about, or is None."""
    return {"severity": severity, "text": text, "method": method}


def collect_warnings(document: dict) -> list[dict[str, str]]:
    """Every warning a reader must see, once each, as ``{"severity", "text"}`` in a stable order.

    ``severity`` is a key of :data:`SEVERITIES`: a finding that undoes a claim
    (a method no better than random, a failed or untrustworthy sanity check, a
    weak model) is high; one that limits a map's resolution or an
    inconclusive check is medium.
    """
    warnings: list[dict[str, str]] = []
    accuracy = model_accuracy(document)
    if accuracy is not None and accuracy < LOW_ACCURACY:
        warnings.append(_warning("high", f"The model's validation accuracy is low ({accuracy:.3f} < {LOW_ACCURACY}); "
                                 "explanations of a weak model say little about the task."))
    methods = document.get("methods") or {}
    warnings.extend(_warning("high", text, name) for name, text in reference_findings(document, by_method=True)[1])
    for name, record in methods.items():
        title = method_title(document, name)
        # A coarse CAM that loses to random gets the sentence pointing at finer layers; otherwise the
        # explainer's own feature-map warning says it.
        coarse_layer = coarse_cam_layer(record.get("settings") or {}) if loses_to_random(document, name) else None
        if coarse_layer:
            warnings.append(_warning("medium", _coarse_cam_sentence(document, name, record, coarse_layer), name))
        for message in record.get("warnings") or []:
            # The CAM explainer's own feature-map warning states the fact the sentence above already gives.
            if coarse_layer and "feature map" in str(message):
                continue
            # Methods prefix their own warnings with their registry name; the title says it once.
            warnings.append(_warning("medium", f"{title}: {str(message).removeprefix(f'{name}: ')}", name))
        coarse = coarse_superpixels(record)
        if coarse:
            warnings.append(_warning("medium", coarse.replace("{title}", title), name))
    warnings.extend(sanity_warnings(document))
    periphery = evidence_warning(document)
    if periphery:
        warnings.append(_warning("high", periphery))
    warnings.extend(stain_warnings(document))
    for name, record in (document.get("localisation") or {}).items():
        if name not in methods:
            continue
        centre = (record or {}).get("centre_mass") or {}
        if "mean" in centre and centre["mean"] < UNIFORM_CENTRE_MASS:
            warnings.append(_warning("medium", f"{method_title(document, name)} puts less attribution on the centre "
                                     f"32x32 region than a uniform map would ({centre['mean']:.3f} < "
                                     f"{UNIFORM_CENTRE_MASS:.3f}): it looks at the border, not where the label is "
                                     "decided.", name))
    images = document.get("images") or []
    border_notes = sum(1 for image in images if "border" in str(image.get("note", "")).lower())
    if border_notes:
        warnings.append(_warning("low", f"{border_notes} of {len(images)} patch notes report attribution concentrated "
                                 "on the patch border."))
    rank = list(SEVERITIES)
    return sorted(warnings, key=lambda warning: rank.index(warning["severity"]))


def lost_calls(evidence: dict) -> str:
    """"0.40 [0.20, 0.60] of 10 tumour calls lost": the region-removal test's measurement (``document["evidence"]``)."""
    return f"{fmt_interval(evidence.get('lost_without_periphery'), 2)} of {evidence.get('tumour_calls')} tumour calls lost"


def evidence_warning(document: dict) -> str | None:
    """The warning when the model's tumour calls rely on the periphery (:mod:`reportgen.pipeline.evidence`), else None."""
    evidence = document.get("evidence")
    if not evidence or evidence.get("decision") != "relies_on_periphery":
        return None
    return (f"The model's evidence lies where the label says it must not: {lost_calls(evidence)} when everything "
            f"outside the centre 32x32 is replaced by the {evidence['substrate']} substrate. PCam's label ignores the "
            "periphery, so these calls are made for a reason the label does not allow.")


def _coarse_cam_sentence(document: dict, name: str, record: dict, layer: str) -> str:
    """The one warning about a CAM map of 3x3 cells or fewer, pointing at where finer layers are scored."""
    size = (record.get("settings") or {}).get("feature_map_size")
    layer_table = ((document.get("stability") or {}).get("grad_cam_layers") or {}).get("method") == name
    compare = ("the Grad-CAM layer table (Stability of the explanations) scores the finer layers"
               if layer_table else f"compare a finer layer with --grad-cam-layer {FINER_CAM_LAYER}")
    return (f"{method_title(document, name)}: the {layer} feature map is {size} ({COARSE_CAM_CELLS} cells or fewer), "
            "each cell seeing the whole patch, so the map has only that many distinct values and can lose the link "
            f"to where the evidence lies; {compare}.")


def summarise_findings(document: dict) -> dict[str, Any]:
    """Verdict, most faithful method per metric, warnings and accuracy of a report document.

    Parameters
    ----------
    document : report document, schema_version 1 (``summary`` itself is not read).

    Returns
    -------
    dict
        ``{"verdict": str, "findings": [str], "most_faithful": {"deletion": dict | None, "insertion": dict | None},
        "warnings": [str], "warning_records": [{"severity", "text"}], "accuracy": float | None}``:
        ``verdict`` is the ``findings`` sentences joined, ``warnings`` the records' texts (what a later run
        compares); see :func:`most_faithful` and :func:`collect_warnings`.
    """
    best = {kind: most_faithful(document, kind) for kind in DIRECTIONS}
    warnings = collect_warnings(document)
    accuracy = model_accuracy(document)
    sentences = []
    if best["deletion"] and best["insertion"] and best["deletion"]["method"] == best["insertion"]["method"]:
        sentences.append(f"{best['deletion']['title']} has the best mean by both deletion and insertion AUC.")
    sentences.extend(_faithfulness_sentence(document, kind, record) for kind, record in best.items() if record)
    sentences.extend(reference_findings(document)[0])
    sentences.extend(undecided_sentences(document))
    sentences.extend(power_sentences(document))
    if not any(best.values()):
        sentences.append("No explanation method was scored.")
    if accuracy is not None:
        sentences.append(f"The model's validation accuracy is {accuracy:.3f}.")
    sentences.append(f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''} below." if warnings
                     else "No warnings.")
    return {"verdict": " ".join(sentences), "findings": sentences, "most_faithful": best,
            "warnings": [warning["text"] for warning in warnings], "warning_records": warnings,
            "accuracy": accuracy}
