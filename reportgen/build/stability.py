"""Stability of the explanations themselves: what changes when a method's free choice changes.

Three measurements (``--stability``; which run by default is :data:`reportgen.config.DEFAULT_STABILITY`):

``lime_seeds``
    LIME explained again with a second seed; the two maps of each patch compared
    (:func:`reportgen.metrics.stability.map_similarity`).  The second seed follows the
    per-patch rule with the run seed plus one, ``SeedSequence([seed + 1, patch index])``, so it
    seeds lime's sampler and quickshift's tie-breaking as the first seed does, and a rebuild
    reproduces it.
``ig_baselines``
    Integrated Gradients from the black, white and blur baselines: every pair of maps compared,
    and each baseline's maps scored by deletion and insertion like a method.
``grad_cam_layers``
    Grad-CAM at the last block of ``layer2``, ``layer3`` and ``layer4`` (12x12, 6x6 and 3x3 cells
    at 96 px), each scored like a method and tested against the random map by the verdict rule.
    The report's Grad-CAM stays at its configured layer (default ``backbone.layer4.1``, the
    notebook's and the library's); the table is evidence around that verdict, not a choice.

Every map goes through :func:`reportgen.build.explain.explain_patches` with the variant's
settings, so it is cached per patch under the same key a report with those settings would use
(a variant equal to the report's own settings is the report's map), and every curve through
:class:`reportgen.build.score.CurveScorer`, cached per patch likewise.  Cache keys carry the code
version, so no value computed by other code is served.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from reportgen.build.explain import MethodResult, explain_patches
from reportgen.build.score import CurveScorer, CurveSet, curve_set
from reportgen.cache import ArrayCache
from reportgen.config import BuildConfig
from reportgen.explain import get_explainer
from reportgen.explain._cam import DEFAULT_TARGET_LAYER
from reportgen.explain.baselines import BASELINES
from reportgen.metrics.stability import map_similarity, outcomes_differ, pairwise_similarity, similarity_word
from reportgen.metrics.stats import mean_with_interval
from reportgen.metrics.verdicts import CLAIM_METRICS, decide_claims
from reportgen.runtime import Stopwatch

logger = logging.getLogger(__name__)

#: The Grad-CAM layers of the table: the last basic block of layer2, layer3 and layer4 of ResNet-18.
GRAD_CAM_LAYERS = ("backbone.layer2.1", "backbone.layer3.1", "backbone.layer4.1")
#: The second LIME seed is the per-patch rule applied to the run seed plus this.
SECOND_SEED_OFFSET = 1
#: What each measurement needs among the report's methods.
MEASURE_METHODS = {"lime_seeds": "lime", "ig_baselines": "integrated_gradients", "grad_cam_layers": "grad_cam"}

#: Decided before any result was seen: the layer table's claims are a Holm family of their own, not
#: part of the report's.  The table is evidence around the report's Grad-CAM verdict; had its rows
#: joined the report's family, switching the table on or off would change every other verdict of
#: the report.  Within the table all three layers are corrected together, so the rows are decided
#: alike and can be compared with each other.  The report's own verdict for its Grad-CAM layer
#: (corrected over the whole report) is in the verdict table; here the same layer can come out
#: more decided, because this family is smaller.
LAYER_FAMILY = ("Holm-corrected over this table's claims only (every layer against the random map, deletion and "
                "insertion), not over the report's; the report's own verdicts are unchanged by this table.")


@dataclass
class Repeatability:
    """One method explained twice with two seeds: ``similarity`` holds (N,) per-patch values."""

    method: str
    seed_rule: str
    second: MethodResult
    similarity: dict[str, np.ndarray]
    seconds: float


@dataclass
class BaselineSensitivity:
    """Integrated Gradients from each baseline: maps, curves, and the similarity of each pair."""

    method: str
    used: str
    results: dict[str, MethodResult]
    curves: dict[str, CurveSet]
    pairs: list[tuple[str, str, dict[str, np.ndarray]]]
    seconds: float


@dataclass
class LayerTable:
    """Grad-CAM at each layer of :data:`GRAD_CAM_LAYERS`: feature-map sizes and curves."""

    method: str
    default_layer: str
    used_layer: str
    feature_map_sizes: dict[str, str]
    curves: dict[str, CurveSet]
    seconds: float


@dataclass
class StabilityOutcome:
    """What the stability measurements computed; ``None`` for one not run, with the reason in ``skipped``."""

    lime_seeds: Repeatability | None = None
    ig_baselines: BaselineSensitivity | None = None
    grad_cam_layers: LayerTable | None = None
    skipped: dict[str, str] = field(default_factory=dict)


class _Context:
    """The patches and the build's caches, shared by every variant explanation and curve."""

    def __init__(self, model, images, targets, patch_indices, methods, *, config, dataset_mean, cache, cache_context,
                 progress):
        self.model, self.images, self.targets, self.patch_indices = model, images, targets, patch_indices
        self.methods, self.config, self.cache, self.cache_context = methods, config, cache, cache_context
        self.progress = progress
        self.scorer = CurveScorer(model, images, targets, patch_indices, config=config, dataset_mean=dataset_mean,
                                  cache=cache, cache_context=cache_context, progress=progress)

    def explain(self, method: str, *, settings: dict | None = None, seed: int | None = None) -> MethodResult:
        """``method``'s maps under the build's settings changed by ``settings`` and ``seed``.

        The report's own result when nothing changes (so ``--no-cache`` does not recompute it).
        """
        config = self.config
        method_settings = dict(config.method_settings)
        method_settings[method] = {**config.settings_for(method), **(settings or {})}
        variant = dataclasses.replace(config, methods=(method,), method_settings=method_settings,
                                      seed=config.seed if seed is None else seed)
        resolve = get_explainer(method).factory.resolve_settings
        if (method in self.methods and variant.seed == config.seed
                and resolve(variant.settings_for(method)) == resolve(config.settings_for(method))):
            return self.methods[method]
        return explain_patches(self.model, self.images, self.targets, self.patch_indices, config=variant,
                               cache=self.cache, cache_context=self.cache_context, progress=self.progress)[method]

    def curves(self, result: MethodResult) -> CurveSet:
        """All curves of ``result``'s maps (:func:`reportgen.build.score.curve_set`), cached as the report's are."""
        return curve_set(self.scorer, result.name, result.maps, {"method": result.name, "settings": result.settings},
                         deletion=self.config.deletion_substrate, insertion=self.config.insertion_substrate)


def _lime_seeds(context: _Context) -> Repeatability:
    started = time.perf_counter()
    method, seed = MEASURE_METHODS["lime_seeds"], context.config.seed
    second = context.explain(method, seed=seed + SECOND_SEED_OFFSET)
    similarity = map_similarity(context.methods[method].maps, second.maps)
    rule = (f"first seed SeedSequence([{seed}, patch index]) (the report's map), second seed "
            f"SeedSequence([{seed + SECOND_SEED_OFFSET}, patch index]); each seeds lime's sampler and quickshift")
    return Repeatability(method=method, seed_rule=rule, second=second, similarity=similarity,
                         seconds=time.perf_counter() - started)


def _ig_baselines(context: _Context) -> BaselineSensitivity:
    started = time.perf_counter()
    method = MEASURE_METHODS["ig_baselines"]
    results = {baseline: context.explain(method, settings={"baseline": baseline}) for baseline in BASELINES}
    curves = {baseline: context.curves(result) for baseline, result in results.items()}
    pairs = pairwise_similarity({baseline: result.maps for baseline, result in results.items()})
    used = context.methods[method].settings.get("baseline", "black")
    return BaselineSensitivity(method=method, used=used, results=results, curves=curves, pairs=pairs,
                               seconds=time.perf_counter() - started)


def _grad_cam_layers(context: _Context) -> LayerTable:
    started = time.perf_counter()
    method = MEASURE_METHODS["grad_cam_layers"]
    results = {layer: context.explain(method, settings={"target_layer": layer}) for layer in GRAD_CAM_LAYERS}
    curves = {layer: context.curves(result) for layer, result in results.items()}
    sizes = {layer: str(result.settings.get("feature_map_size")) for layer, result in results.items()}
    used = context.methods[method].settings.get("target_layer", DEFAULT_TARGET_LAYER)
    return LayerTable(method=method, default_layer=DEFAULT_TARGET_LAYER, used_layer=used, feature_map_sizes=sizes,
                      curves=curves, seconds=time.perf_counter() - started)


_MEASURES = {"lime_seeds": _lime_seeds, "ig_baselines": _ig_baselines, "grad_cam_layers": _grad_cam_layers}


def stability_checks(model, images: torch.Tensor, targets: torch.Tensor, patch_indices, methods: dict[str, MethodResult],
                     *, config: BuildConfig, dataset_mean, cache: ArrayCache, cache_context: dict, watch: Stopwatch,
                     progress: bool = True) -> StabilityOutcome:
    """Run the measurements of ``config.stability`` on the report's patches.

    Parameters
    ----------
    images : (N, 3, H, W) float in [0, 1]; targets : (N,) long; patch_indices : (N,) split indices.
    methods : the report's maps (a measurement needs its method among them, else it is skipped).
    dataset_mean, cache, cache_context : as for :func:`reportgen.build.score.score_maps`.
    watch : times each measurement as stage ``stability_<name>``.
    """
    context = _Context(model, images, targets, patch_indices, methods, config=config, dataset_mean=dataset_mean,
                       cache=cache, cache_context=cache_context, progress=progress)
    outcome = StabilityOutcome()
    for name in config.stability or ():
        needed = MEASURE_METHODS[name]
        if needed not in methods:
            outcome.skipped[name] = f"{needed} is not among the report's methods"
            continue
        with watch.stage(f"stability_{name}"):
            setattr(outcome, name, _MEASURES[name](context))
        logger.info("stability %s: %.1f s", name, getattr(outcome, name).seconds)
    return outcome


def _similarity_record(similarity: dict[str, np.ndarray], seed: int, groups) -> dict:
    record = {key: mean_with_interval(values, seed=seed, groups=groups) for key, values in similarity.items()}
    record["reading"] = similarity_word(record["spearman"]["mean"])
    return record


def _subset(groups, mask: np.ndarray):
    return None if groups is None else np.asarray(groups, dtype=object)[mask]


def _scores(curves: CurveSet, masks: dict[str, np.ndarray], seed: int, groups) -> dict:
    """Each claimed metric's mean over its informative patches (the report's headline means)."""
    return {metric: mean_with_interval(getattr(curves, metric)[masks[mode]], seed=seed,
                                       groups=_subset(groups, masks[mode]))
            for metric, (mode, _) in CLAIM_METRICS.items()}


def _layer_section(table: LayerTable, random_curves: CurveSet, masks: dict[str, np.ndarray], *, groups,
                   alpha: float, seed: int) -> dict:
    claims = []
    for layer, curves in table.curves.items():
        for metric, (mode, higher_is_better) in CLAIM_METRICS.items():
            mask = masks[mode]
            claims.append({"method": f"{table.method}@{layer}", "against": "random", "metric": metric,
                           "higher_is_better": higher_is_better, "patches": np.flatnonzero(mask),
                           "groups": _subset(groups, mask), "values": getattr(curves, metric)[mask],
                           "against_values": getattr(random_curves, metric)[mask]})
    verdicts = iter(decide_claims(claims, alpha=alpha, seed=seed))
    rows = []
    for layer, curves in table.curves.items():
        rows.append({"layer": layer, "feature_map_size": table.feature_map_sizes[layer],
                     "default": layer == table.default_layer, "used": layer == table.used_layer,
                     **_scores(curves, masks, seed, groups),
                     "against_random": {metric: next(verdicts) for metric in CLAIM_METRICS}})
    depends = {metric: outcomes_differ([row["against_random"][metric]["outcome"] for row in rows])
               for metric in CLAIM_METRICS}
    return {"method": table.method, "default_layer": table.default_layer, "used_layer": table.used_layer,
            "family": LAYER_FAMILY, "rows": rows, "depends_on_layer": depends}


def stability_section(outcome: StabilityOutcome | None, *, random_curves: CurveSet | None,
                      masks: dict[str, np.ndarray], groups=None, alpha: float, seed: int) -> dict | None:
    """report.json's ``stability`` section (schema :class:`reportgen.schema.Stability`), or ``None`` when none ran.

    What each measurement cost is in ``provenance.timings`` (stage ``stability_<name>``), not here:
    the section holds what was measured, so two runs of the same build give the same section.

    Parameters
    ----------
    outcome : from :func:`stability_checks`.
    random_curves : the random reference map's curves, for the layer table's verdicts.
    masks : mode -> (N,) bool, the report's informative patches.
    groups : (N,) slide ids, the unit of intervals and tests as in the report's verdicts, or ``None``.
    alpha, seed : the verdict rule's level and bootstrap seed.
    """
    if outcome is None:
        return None
    section: dict = {"measures": [name for name in MEASURE_METHODS if getattr(outcome, name) is not None],
                     "skipped": dict(outcome.skipped), "lime_seeds": None, "ig_baselines": None,
                     "grad_cam_layers": None}
    if outcome.lime_seeds is not None:
        lime = outcome.lime_seeds
        section["lime_seeds"] = {"method": lime.method, "seed_rule": lime.seed_rule,
                                 **_similarity_record(lime.similarity, seed, groups)}
    if outcome.ig_baselines is not None:
        ig = outcome.ig_baselines
        section["ig_baselines"] = {
            "method": ig.method, "used": ig.used, "baselines": list(ig.results),
            "scores": {baseline: _scores(curves, masks, seed, groups) for baseline, curves in ig.curves.items()},
            "pairs": [{"a": a, "b": b, **_similarity_record(similarity, seed, groups)}
                      for a, b, similarity in ig.pairs],
        }
    if outcome.grad_cam_layers is not None and random_curves is not None:
        section["grad_cam_layers"] = _layer_section(outcome.grad_cam_layers, random_curves, masks, groups=groups,
                                                    alpha=alpha, seed=seed)
    return section
