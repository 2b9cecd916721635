"""Stability of the explanations themselves: what changes when a method's free choice changes.

Each method declares its measurements (:attr:`reportgen.explain.Explainer.stability_variants`: what it changes
and how the maps are read); ``--stability`` picks among them, and those marked ``default`` run when it is not
given.  By the variant's kind (:data:`reportgen.explain.base.STABILITY_KINDS`):

``seed``
    the method explained again with a second seed; the two maps of each patch compared
    (:func:`reportgen.metrics.stability.map_similarity`).  The second seed follows the per-patch rule with
    the run seed plus one, ``SeedSequence([seed + 1, patch index])``, so a rebuild reproduces it.
``pairs``
    the method at each value of one setting: every pair of maps compared, and each value's maps scored by
    deletion, insertion and SRG like a method.
``table``
    the method at each value of one setting, each scored like a method and tested against the random map by
    the verdict rule (in :mod:`reportgen.pipeline.stability_section`).  The values may come from the model
    (:meth:`reportgen.explain.Explainer.variant_values`: Grad-CAM's layers by
    :func:`reportgen.model.feature_layers.stability_cam_layers`).  The report's method stays at its
    configured settings; the table is evidence around that verdict, not a choice.

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
from reportgen.explain import get_explainer, list_stability_variants
from reportgen.explain.base import StabilityVariant
from reportgen.metrics.stability import map_similarity, pairwise_similarity
from reportgen.pipeline.explain import MethodResult, explain_patches
from reportgen.pipeline.join import ADDED
from reportgen.pipeline.score import CurveScorer, CurveSet, curve_set
from reportgen.runtime import Stopwatch

logger = logging.getLogger(__name__)


@dataclass
class Repeatability:
    """A ``seed`` variant: one method explained twice with two seeds; ``similarity`` holds (N,) per-patch values."""

    method: str
    seed_rule: str
    second: MethodResult
    similarity: dict[str, np.ndarray]
    seconds: float = field(metadata=ADDED)


@dataclass
class SettingPairs:
    """A ``pairs`` variant: the method at each value of a setting (``used``: the report's), maps, curves, and the
    similarity of each pair."""

    method: str
    used: str
    results: dict[str, MethodResult]
    curves: dict[str, CurveSet]
    pairs: list[tuple[str, str, dict[str, np.ndarray]]]
    seconds: float = field(metadata=ADDED)


@dataclass
class SettingTable:
    """A ``table`` variant: the method at each value of a setting, with the facts its maps record (value -> fact ->
    text) and their curves; ``default`` is the method's default value, ``used`` the report's."""

    method: str
    default: str
    used: str
    facts: dict[str, dict[str, str]]
    curves: dict[str, CurveSet]
    seconds: float = field(metadata=ADDED)


@dataclass
class StabilityOutcome:
    """What the stability measurements computed, by variant name in the order they ran; a measurement not run
    is absent from ``measured``, with the reason in ``skipped`` when it was asked for."""

    measured: dict[str, Repeatability | SettingPairs | SettingTable] = field(default_factory=dict)
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


def _measure(context: _Context, variant: StabilityVariant) -> Repeatability | SettingPairs | SettingTable:
    """Run ``variant`` of its method on the context's patches."""
    started = time.perf_counter()
    method, seed = variant.method, context.config.seed
    own = context.methods[method]
    results = {label: context.explain(method, settings=settings, seed=run_seed)
               for label, (settings, run_seed) in variant.runs(seed).items()}
    if variant.kind == "seed":
        (second,) = results.values()
        return Repeatability(method=method, seed_rule=variant.seed_rule(seed), second=second,
                             similarity=map_similarity(own.maps, second.maps), seconds=time.perf_counter() - started)
    curves = {label: context.curves(result) for label, result in results.items()}
    factory = get_explainer(method).factory
    default = {**factory.defaults, **factory.model_defaults(context.model)}[variant.setting]
    used = own.settings.get(variant.setting, default)
    if variant.kind == "pairs":
        pairs = pairwise_similarity({label: result.maps for label, result in results.items()})
        return SettingPairs(method=method, used=used, results=results, curves=curves, pairs=pairs,
                            seconds=time.perf_counter() - started)
    facts = {label: {key: str(result.settings.get(key)) for key in variant.facts} for label, result in results.items()}
    return SettingTable(method=method, default=default, used=used, facts=facts, curves=curves,
                        seconds=time.perf_counter() - started)


def stability_checks(model, images: torch.Tensor, targets: torch.Tensor, patch_indices, methods: dict[str, MethodResult],
                     *, config: BuildConfig, dataset_mean, cache: ArrayCache, cache_context: dict, watch: Stopwatch,
                     progress: bool = True) -> StabilityOutcome:
    """Run the measurements of ``config.stability`` on the report's patches.

    Parameters
    ----------
    images : (N, 3, H, W) float in [0, 1]; targets : (N,) long; patch_indices : (N,) split indices.
    methods : the report's maps (a measurement needs its method among them, else it is skipped).
    config : ``config.stability`` names the variants to run, in the order they run.
    dataset_mean, cache, cache_context : as for :func:`reportgen.pipeline.score.score_maps`.
    watch : times each measurement as stage ``stability_<name>``.
    """
    context = _Context(model, images, targets, patch_indices, methods, config=config, dataset_mean=dataset_mean,
                       cache=cache, cache_context=cache_context, progress=progress)
    outcome = StabilityOutcome()
    variants = {variant.name: variant for variant in list_stability_variants()}
    for name in config.stability or ():
        variant = variants[name]
        if variant.method not in methods:
            outcome.skipped[name] = f"{variant.method} is not among the report's methods"
            continue
        factory = get_explainer(variant.method).factory
        reason = factory.variant_skip_reason(variant, model)
        if reason:
            outcome.skipped[name] = reason
            continue
        variant = dataclasses.replace(variant, values=factory.variant_values(variant, model))
        with watch.stage(f"stability_{name}"):
            outcome.measured[name] = _measure(context, variant)
        logger.info("stability %s: %.1f s", name, outcome.measured[name].seconds)
    return outcome
