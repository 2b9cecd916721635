"""report.json's ``stain_robustness`` section from what :mod:`reportgen.pipeline.stain` measured on the stain
patches and :mod:`reportgen.pipeline.model_checks` on every evaluated patch.

Presentation only (the cache does not depend on this module): means with their intervals over the
report's unit, the deletion-AUC verdicts against the random map on the original and the perturbed
patches, and the rules of :mod:`reportgen.metrics.stain` applied to the means.  The model's decisions
(flip rates, probability changes, the other class's stain) come from the model-level checks' patches;
the maps, their verdicts and how strong each perturbation was from the stain patches.
"""

from __future__ import annotations

import numpy as np

from reportgen.metrics.faithfulness import curve_auc
from reportgen.metrics.stability import similarity_word
from reportgen.metrics.stain import (
    CLASS_STAIN_SHIFT_MAX,
    CONDITIONS,
    MAP_SPEARMAN_MIN,
    MODEL_CONDITIONS,
    MODEL_FLIP_RATE_MAX,
    STABLE_FLIP_RATE,
    STABLE_PROBABILITY_CHANGE,
    TUMOUR,
    decision_barely_changed,
)
from reportgen.metrics.stats import mean_with_interval, rate_with_interval, share_with_interval
from reportgen.metrics.verdicts import decide_claims, informative_patches
from reportgen.pipeline.model_checks import ModelCheckOutcome
from reportgen.pipeline.stain import ClassStainOutcome, StainOutcome

#: Which claim the section re-decides, and in which family; fixed before any result was seen.
VERDICT_METRIC = "deletion_auc"
STAIN_FAMILY = ("Each method's deletion AUC against the random map, on the informative patches of the original and "
                "of each perturbed set, by the report's verdict rule; these claims are Holm-corrected among "
                "themselves (original and every condition together), not over the report's, so the report's "
                "verdicts are unchanged by this section.")
METHOD_RULE = (f"A method explains the decision, not the stain, when under every condition that barely changed the "
               f"decision (at most {STABLE_FLIP_RATE:g} of the predictions flipped and the tumour probability moved "
               f"by at most {STABLE_PROBABILITY_CHANGE:g} on average, in absolute value, over the evaluated patches of "
               "the model's rules) its maps on the perturbed stain patches keep a mean Spearman correlation of at "
               f"least {MAP_SPEARMAN_MIN:g} with its maps on the original patches, by the 95 % interval of that mean; "
               "it explains the stain, not the decision, when an interval lies wholly below.")
MODEL_RULE = (f"The model's decision holds under a stain change when two claims hold, each decided by the 95 % "
              f"interval of its mean (docs/judgement.md): under "
              f"{' and under '.join(CONDITIONS[name][0] for name in MODEL_CONDITIONS)}, which changes the stain as "
              f"much as laboratories differ, at random, at most {MODEL_FLIP_RATE_MAX:g} of its predictions flip; and "
              "given the stain amounts of a patch of the other class, its tumour probability moves toward that class "
              f"by at most {CLASS_STAIN_SHIFT_MAX:g} on average. Both ask the model only, so they run on every "
              "evaluated patch (or a stated seeded sample of a large split), the slide the unit of their intervals "
              "where slides are known. A stain that travels with the label, as when tumour slides come from one "
              "laboratory, is what a model that moves toward the donor's class learned, however far it lies outside "
              "HED strong's range; where stain and label are independent the donor's stain is a random other stain, "
              "and a model moves toward the donor's class as often as away from it. The other "
              "conditions are reported, not read: Macenko's reference stain comes from elsewhere and its "
              "rescaling changes how dark the nuclei look; matching the data's stain amounts flipped, on the 10 "
              "stain patches it was first measured on, many of them near p = 0.5, the decisions of models that do "
              "not decide by stain about as often as of one that does.")
#: The rules' numbers, stated in the document so its readers need not import the rules.
THRESHOLDS = {"stable_flip_rate": STABLE_FLIP_RATE, "stable_probability_change": STABLE_PROBABILITY_CHANGE,
              "map_spearman_min": MAP_SPEARMAN_MIN, "model_flip_rate_max": MODEL_FLIP_RATE_MAX,
              "class_stain_shift_max": CLASS_STAIN_SHIFT_MAX}
CLASS_STAIN_DESCRIPTION = ("{chosen}, each with its haematoxylin and eosin medians scaled to those of a patch of the "
                           "other class among them, drawn with the run seed")
DESCRIPTIONS = {
    "hed_light": "HED jitter (Tellez et al., Medical Image Analysis 2019), s = {s:g}: each haematoxylin, eosin and "
                 "DAB channel becomes alpha * c + beta, alpha ~ U[1 - s, 1 + s], beta ~ U[-s, s], per patch",
    "macenko": "Macenko normalisation (Macenko et al., ISBI 2009) to torchstain's default reference stain",
    "hed_data": "each patch's haematoxylin and eosin scaled so that their medians over the patch are the data's "
                "(the medians over {reference} patches of the evaluated split drawn with the run seed): stain "
                "differences between patches removed, the tissue kept",
}
DESCRIPTIONS["hed_strong"] = DESCRIPTIONS["hed_light"]


def _claim(method: str, deletion: np.ndarray, random: np.ndarray, mask: np.ndarray, groups) -> dict:
    return {"method": method, "against": "random", "metric": VERDICT_METRIC, "higher_is_better": False,
            "patches": np.flatnonzero(mask), "groups": None if groups is None else groups[mask],
            "values": curve_auc(deletion)[mask], "against_values": curve_auc(random)[mask]}


def _amounts(values) -> dict[str, float]:
    return {"haematoxylin": float(values[0]), "eosin": float(values[1])}


def class_stain_record(measured: ClassStainOutcome | None, *, chosen: str, seed: int) -> dict | None:
    """The other class's stain (schema :class:`reportgen.schema.ClassStain`), with intervals over slides where the
    patches have them; ``None`` when the patches hold one class only.  ``chosen``: how the patches were chosen."""
    if measured is None:
        return None
    groups = None if measured.slides is None else np.asarray(measured.slides, dtype=object)
    counts = {"normal": int((measured.labels != TUMOUR).sum()), "tumour": int((measured.labels == TUMOUR).sum())}
    toward = rate_with_interval(measured.toward_donor, seed=seed, groups=groups)
    return {"title": "Stain of the other class",
            "description": CLASS_STAIN_DESCRIPTION.format(chosen=chosen),
            "patches": len(measured.labels), "class_patches": counts,
            "class_amounts": {"normal": _amounts(measured.class_amounts[1 - TUMOUR]),
                              "tumour": _amounts(measured.class_amounts[TUMOUR])},
            "unchanged": int(measured.unchanged.sum()),
            "flip_rate": share_with_interval(measured.flipped, seed=seed, groups=groups),
            "toward_donor": toward}


def stain_section(outcome: StainOutcome | None, *, original_deletion: dict[str, np.ndarray], methods: list[str],
                  patch_ids: list[str], groups=None, alpha: float, seed: int,
                  model: ModelCheckOutcome | None = None) -> dict | None:
    """report.json's ``stain_robustness`` section (schema :class:`reportgen.schema.StainRobustness`), or ``None``.

    Parameters
    ----------
    outcome : from :func:`reportgen.pipeline.stain.stain_checks`, or ``None`` when ``--stain-images 0``.
    original_deletion : method (and ``"random"``) -> (N, steps + 1) the report's deletion curves; the first
        ``outcome.count`` rows are the stain patches.
    methods : the report's method names, in order.
    patch_ids : (N,) the report's patch ids; groups : (N,) slide ids or ``None``.
    alpha, seed : the verdict rule's level and bootstrap seed.
    model : the model-level checks (:func:`reportgen.pipeline.model_checks.model_checks`, run with the stain
        conditions), which give the model's decisions; required with ``outcome``.
    """
    if outcome is None:
        return None
    if model is None or model.stain is None:
        raise ValueError("the stain section needs the model-level checks run with the stain conditions "
                         "(reportgen.pipeline.model_checks.model_checks with stain_amounts)")
    count = outcome.count
    # Only the methods the step re-explained (all of the report's, in a build).
    methods = [name for name in methods
               if all(name in measured.similarity for measured in outcome.conditions.values())]
    groups = None if groups is None else np.asarray(groups, dtype=object)[:count]
    original = {name: np.asarray(curves)[:count] for name, curves in original_deletion.items()}
    masks = {"original": informative_patches(original["random"], "deletion")}
    claims = [_claim(name, original[name], original["random"], masks["original"], groups) for name in methods]
    for condition, measured in outcome.conditions.items():
        masks[condition] = informative_patches(measured.deletion["random"], "deletion")
        claims += [_claim(name, measured.deletion[name], measured.deletion["random"], masks[condition], groups)
                   for name in methods]
    decided = iter(decide_claims(claims, alpha=alpha, seed=seed))
    original_verdicts = {name: next(decided) for name in methods}

    conditions = {}
    for condition, measured in outcome.conditions.items():
        title, strength = CONDITIONS[condition]
        decisions = model.stain[condition]
        flip = share_with_interval(decisions.flipped, seed=seed, groups=model.slides)
        absolute = rate_with_interval(np.abs(decisions.probability_change), seed=seed, groups=model.slides)
        stable = decision_barely_changed(flip["mean"], absolute["mean"])
        records = {}
        for name in methods:
            similarity = {key: mean_with_interval(values, seed=seed, groups=groups)
                          for key, values in measured.similarity[name].items()}
            verdict = next(decided)
            records[name] = {**similarity, "reading": similarity_word(similarity["spearman"]["mean"]),
                             "verdict": verdict,
                             "verdict_changed": verdict["outcome"] != original_verdicts[name]["outcome"]}
        conditions[condition] = {
            "title": title, "strength": strength,
            "description": DESCRIPTIONS[condition].format(s=strength or 0, reference=outcome.reference_patches),
            "rgb_change": mean_with_interval(measured.rgb_change, seed=seed, groups=groups),
            "unchanged": int(measured.unchanged.sum()),
            "unchanged_patches": [patch_ids[i] for i in np.flatnonzero(measured.unchanged)],
            "informative": int(masks[condition].sum()),
            "flip_rate": flip,
            "probability_change": rate_with_interval(decisions.probability_change, seed=seed, groups=model.slides),
            "abs_probability_change": absolute,
            "decision_stable": stable,
            "model_unchanged": int(decisions.unchanged.sum()),
            "stain_patches_flip_rate": mean_with_interval(measured.flipped, seed=seed, groups=groups),
            "methods": records,
        }
    class_stain = class_stain_record(model.class_stain, chosen=model.chosen, seed=seed)
    patches = len(model.patch_indices)
    return {"images": count, "patch_ids": list(patch_ids[:count]), "seed_rule": outcome.seed_rule,
            "model_patches": patches, "model_slides": model.slide_count, "model_chosen": model.chosen,
            "conditions": conditions, "original_informative": int(masks["original"].sum()),
            "original_verdicts": original_verdicts, "family": STAIN_FAMILY, "method_rule": METHOD_RULE,
            "model_rule": MODEL_RULE, "model_conditions": [name for name in MODEL_CONDITIONS if name in conditions],
            "thresholds": THRESHOLDS, "class_stain": class_stain}
