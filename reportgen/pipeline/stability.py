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
    and each baseline's maps scored by deletion, insertion and SRG like a method.
``grad_cam_layers``
    Grad-CAM at the last block of ``layer2``, ``layer3`` and ``layer4`` (12x12, 6x6 and 3x3 cells
    at 96 px), each scored like a method and tested against the random map by the verdict rule.
    The report's Grad-CAM stays at its configured layer (default ``backbone.layer4.1``, the
    notebook's and the library's); the table is evidence around that verdict, not a choice.

Every map goes through :func:`reportgen.pipeline.explain.explain_patches` with the variant's
settings, so it is cached per patch under the same key a report with those settings would use
(a variant equal to the report's own settings is the report's map), and every curve through
:class:`reportgen.pipeline.score.CurveScorer`, cached per patch likewise.  Cache keys carry the code
version, so no value computed by other code is served.  Their section of report.json is
:mod:`reportgen.pipeline.stability_section`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from reportgen.cache import ArrayCache
from reportgen.config import BuildConfig
from reportgen.explain import get_explainer
from reportgen.explain._cam import DEFAULT_TARGET_LAYER
from reportgen.explain.baselines import BASELINES
from reportgen.metrics.stability import map_similarity, pairwise_similarity
from reportgen.pipeline.explain import MethodResult, explain_patches
from reportgen.pipeline.join import ADDED
from reportgen.pipeline.score import CurveScorer, CurveSet, curve_set
from reportgen.runtime import Stopwatch

logger = logging.getLogger(__name__)

#: The Grad-CAM layers of the table: the last basic block of layer2, layer3 and layer4 of ResNet-18.
GRAD_CAM_LAYERS = ("backbone.layer2.1", "backbone.layer3.1", "backbone.layer4.1")
#: The second LIME seed is the per-patch rule applied to the run seed plus this.
SECOND_SEED_OFFSET = 1
#: What each measurement needs among the report's methods.
MEASURE_METHODS = {"lime_seeds": "lime", "ig_baselines": "integrated_gradients", "grad_cam_layers": "grad_cam"}

@dataclass
class Repeatability:
    """One method explained twice with two seeds: ``similarity`` holds (N,) per-patch values."""

    method: str
    seed_rule: str
    second: MethodResult
    similarity: dict[str, np.ndarray]
    seconds: float = field(metadata=ADDED)


@dataclass
class BaselineSensitivity:
    """Integrated Gradients from each baseline: maps, curves, and the similarity of each pair."""

    method: str
    used: str
    results: dict[str, MethodResult]
    curves: dict[str, CurveSet]
    pairs: list[tuple[str, str, dict[str, np.ndarray]]]
    seconds: float = field(metadata=ADDED)


@dataclass
class LayerTable:
    """Grad-CAM at each layer of :data:`GRAD_CAM_LAYERS`: feature-map sizes and curves."""

    method: str
    default_layer: str
    used_layer: str
    feature_map_sizes: dict[str, str]
    curves: dict[str, CurveSet]
    seconds: float = field(metadata=ADDED)


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
        """All curves of ``result``'s maps (:func:`reportgen.pipeline.score.curve_set`), cached as the report's are."""
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
    dataset_mean, cache, cache_context : as for :func:`reportgen.pipeline.score.score_maps`.
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
