"""Stain robustness on the first ``--stain-images`` explained patches: HED light and strong, the data's stain
amounts, Macenko normalisation.

Each condition perturbs the patches (:mod:`reportgen.metrics.stain`), and then measures what the
methods did with them: every method's maps re-explained on the perturbed patches exactly as the build
explains a patch (the same explainer settings, the patch's own seed, the same tracked class as the
original map), and the deletion curves of those maps and of the random map on the perturbed patches, for
the verdict against the random map.  Maps and curves are cached per patch like the report's own; the
perturbations and the stain patches' own predictions cost a few milliseconds and are recomputed.  What the
model's decision does under each condition, and under the stain of the other class, needs one forward pass
per patch, so it is measured on every evaluated patch instead (:mod:`reportgen.pipeline.model_checks`),
with the perturbations and donors defined here.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from reportgen.cache import ArrayCache
from reportgen.config import BuildConfig
from reportgen.metrics.stability import map_similarity
from reportgen.metrics.stain import (
    CONDITIONS,
    REFERENCE_PATCHES,
    decision_change,
    hed_jitter,
    macenko_normalise,
    match_stain_amounts,
    mean_rgb_change,
    stain_amounts,
)
from reportgen.pipeline.explain import MethodResult, patch_explainer
from reportgen.pipeline.score import CurveScorer, reference_maps
from reportgen.runtime import derive_seed

logger = logging.getLogger(__name__)

#: A HED jitter's per-patch seed is the patch rule applied to the run seed plus this, so the stain draw
#: is not the same random stream as the patch's explainer seed.
STAIN_SEED_OFFSET = 7919


@dataclass
class StainCondition:
    """One perturbation of the stain patches and what it changed, (n,) per patch.

    Attributes
    ----------
    name : a key of :data:`reportgen.metrics.stain.CONDITIONS`.
    flipped : 1.0 where the predicted class changed; probability_change : tumour probability after minus before.
    rgb_change : mean absolute RGB change of the patch (how strong the perturbation was).
    unchanged : True where the perturbation could not be applied (Macenko without tissue) and the patch stayed as it was.
    similarity : method -> ``{"spearman", "iou_top10"}`` of its map on the perturbed patch against the original map.
    deletion : method (and ``"random"``) -> (n, steps + 1) deletion curves on the perturbed patches.
    """

    name: str
    flipped: np.ndarray
    probability_change: np.ndarray
    rgb_change: np.ndarray
    unchanged: np.ndarray
    similarity: dict[str, dict[str, np.ndarray]]
    deletion: dict[str, np.ndarray]
    seconds: float = 0.0


@dataclass
class StainReference:
    """The sample of evaluated patches (:func:`reference_patch_indices`) that gives the data's stain amounts.

    Attributes
    ----------
    indices : (M,) split indices; images : (M, 3, H, W) float in [0, 1]; labels : (M,) 0 or 1;
    slides : (M,) slide ids, or ``None`` where the data have none.
    """

    indices: np.ndarray
    images: torch.Tensor
    labels: np.ndarray
    slides: np.ndarray | None = None


@dataclass
class ClassStainOutcome:
    """Each patch of the model checks' sample (:mod:`reportgen.pipeline.model_checks`) given the stain amounts of a
    patch of the other class (its donor, :func:`donor_positions`), (M,) per patch.

    Attributes
    ----------
    patch_indices, labels, slides : of the sample; donors : the split index of each one's donor.
    flipped, probability_change : as :class:`StainCondition`'s; toward_donor : the tumour probability's movement
        toward the donor's class (:func:`reportgen.metrics.stain.toward_donor_class`).
    unchanged : True where a patch or its donor had too little stain to scale.
    class_amounts : label -> (3,) median H, E and DAB amount of that class's patches (their per-patch medians'
        median).
    """

    patch_indices: np.ndarray
    labels: np.ndarray
    slides: np.ndarray | None
    donors: np.ndarray
    flipped: np.ndarray
    probability_change: np.ndarray
    toward_donor: np.ndarray
    unchanged: np.ndarray
    class_amounts: dict[int, np.ndarray]


@dataclass
class StainOutcome:
    """The stain measurements: ``count`` patches (the first of the report's), one record per condition."""

    count: int
    seed_rule: str
    conditions: dict[str, StainCondition] = field(default_factory=dict)
    #: How many patches of the evaluated split gave the data's stain amounts.
    reference_patches: int = 0
    #: (3,) the data's stain amounts (:func:`reportgen.metrics.stain.stain_amounts` of those patches).
    amounts: np.ndarray | None = None


def reference_patch_indices(evaluated, *, seed: int) -> np.ndarray:
    """The split indices of the patches that give the data's stain amounts: :data:`REFERENCE_PATCHES` of the
    evaluated ones (all when fewer), drawn with the run seed, in split order."""
    evaluated = np.asarray(evaluated)
    count = min(REFERENCE_PATCHES, len(evaluated))
    generator = np.random.default_rng([seed, STAIN_SEED_OFFSET])
    return np.sort(generator.choice(evaluated, size=count, replace=False))


def donor_positions(labels, patch_indices, *, seed: int) -> np.ndarray:
    """(M,) for each patch, the position of its donor among the same M patches: one of the other label, drawn
    from ``SeedSequence([seed, STAIN_SEED_OFFSET, patch index])`` so a patch's donor depends on the sample, not
    on the order; -1 where the sample has no patch of the other label."""
    labels, patch_indices = np.asarray(labels), np.asarray(patch_indices)
    by_index = np.argsort(patch_indices, kind="stable")  # the candidates in split order, whatever the sample's
    donors = np.full(len(labels), -1, dtype=np.int64)
    for position, (label, patch) in enumerate(zip(labels, patch_indices)):
        others = by_index[labels[by_index] != label]
        if len(others):
            donors[position] = others[np.random.default_rng([seed, STAIN_SEED_OFFSET, int(patch)]).integers(len(others))]
    return donors


def perturb(name: str, images: torch.Tensor, patch_indices, *, seed: int,
            amounts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Condition ``name`` applied to ``images`` (n, 3, H, W): (perturbed (n, 3, H, W) float32, unchanged (n,) bool).

    ``amounts`` : the data's stain amounts (:func:`reportgen.metrics.stain.stain_amounts`), needed by ``hed_data``.
    """
    strength = CONDITIONS[name][1]
    if name == "hed_data":
        if amounts is None:
            raise ValueError("hed_data needs the data's stain amounts")
        return match_stain_amounts(images, amounts)
    if strength is None:
        return macenko_normalise(images)
    seeds = [derive_seed(seed + STAIN_SEED_OFFSET, int(p)) for p in patch_indices]
    return hed_jitter(images, strength, seeds), np.zeros(len(images), dtype=bool)


def _perturbed_maps(name: str, condition: str, result: MethodResult, model, perturbed: torch.Tensor,
                    targets: torch.Tensor, patch_indices, *, config: BuildConfig, cache: ArrayCache,
                    cache_context: dict) -> np.ndarray:
    """(n, H, W) maps of method ``name`` on the perturbed patches, one cache entry per patch."""
    keys = [cache.key(kind="stain-map", condition=condition, method=name, settings=result.settings,
                      patch=int(patch_indices[i]), target=int(targets[i]), seed=config.seed,
                      precision=config.precision, **cache_context)
            for i in range(len(perturbed))]

    def compute(missing: list[int]) -> list[dict[str, np.ndarray]]:
        # Each patch is explained with its own seed, exactly as for the report's maps.
        return [{"map": patch_explainer(name, model, int(patch_indices[i]), config)
                 .explain(perturbed[i : i + 1], targets[i : i + 1]).maps.astype(np.float32)}
                for i in missing]

    entries, _ = cache.memo_rows(keys, compute, lambda entry: entry["map"].shape == (1, *perturbed.shape[2:]))
    return np.concatenate([entry["map"] for entry in entries])


def stain_checks(model, images: torch.Tensor, targets: torch.Tensor, patch_indices, methods: dict[str, MethodResult],
                 *, config: BuildConfig, dataset_mean, cache: ArrayCache, cache_context: dict,
                 reference: StainReference, progress: bool = True) -> StainOutcome:
    """Every condition of :data:`CONDITIONS` on the patches given (the build gives the first ``--stain-images``,
    :func:`reportgen.pipeline.selection.leading_patches`).

    Parameters
    ----------
    images : (N, 3, H, W) float in [0, 1]; targets : (N,) long, the tracked class of the report's maps.
    reference : the patches of :func:`reference_patch_indices`, which give the data's stain amounts.
    patch_indices : (N,) split indices (seeds and cache keys).
    methods : the report's maps (their first rows are these patches'); each method is re-explained on the
        perturbed patches.
    dataset_mean, cache, cache_context : as for :func:`reportgen.pipeline.score.score_maps`.
    """
    count = len(images)
    patch_indices = [int(p) for p in patch_indices[:count]]
    outcome = StainOutcome(count=count, seed_rule=(
        f"HED jitter draws per patch from SeedSequence([{config.seed + STAIN_SEED_OFFSET}, patch index]); the maps "
        f"on the perturbed patches use each patch's explainer seed SeedSequence([{config.seed}, patch index]), as the "
        f"report's maps do; the data's stain amounts come from {REFERENCE_PATCHES} evaluated patches (all when fewer) "
        f"drawn from SeedSequence([{config.seed}, {STAIN_SEED_OFFSET}]); each patch of the model-level checks gets "
        f"the donor of the other class's stain, among those patches, from SeedSequence([{config.seed}, "
        f"{STAIN_SEED_OFFSET}, patch index])"))
    random_map = reference_maps(images, patch_indices, seed=config.seed)["random"]
    amounts = stain_amounts(reference.images)
    outcome.reference_patches = len(reference.images)
    outcome.amounts = amounts
    for condition in CONDITIONS:
        started = time.perf_counter()
        perturbed_array, unchanged = perturb(condition, images, patch_indices, seed=config.seed, amounts=amounts)
        perturbed = torch.as_tensor(perturbed_array).to(images.device)
        decision = decision_change(model, images, perturbed, batch_size=config.batch_size,
                                   precision=config.precision)
        scorer = CurveScorer(model, perturbed, targets, patch_indices, config=config, dataset_mean=dataset_mean,
                             cache=cache, cache_context=cache_context, progress=progress)
        similarity, deletion = {}, {}
        for name, result in methods.items():
            maps = _perturbed_maps(name, condition, result, model, perturbed, targets, patch_indices, config=config,
                                   cache=cache, cache_context=cache_context)
            similarity[name] = map_similarity(result.maps[:count], maps)
            deletion[name] = scorer.curves(name, maps, mode="deletion", substrate=config.deletion_substrate,
                                           map_identity={"method": name, "settings": result.settings,
                                                         "stain": condition})
        deletion["random"] = scorer.curves("random", random_map, mode="deletion", substrate=config.deletion_substrate,
                                           map_identity={"reference": "random", "seed": config.seed,
                                                         "stain": condition})
        outcome.conditions[condition] = StainCondition(
            name=condition, flipped=decision["flipped"], probability_change=decision["probability_change"],
            rgb_change=mean_rgb_change(images, perturbed_array), unchanged=unchanged, similarity=similarity,
            deletion=deletion, seconds=time.perf_counter() - started)
        logger.info("stain %s: %d patches in %.1f s", condition, count, outcome.conditions[condition].seconds)
    return outcome
