"""Score every map: faithfulness curves, agreement, localisation (METRICS.md).

Curves are computed for the explanation methods and for the reference maps
(random, centre prior, Sobel edges) in one batched pass per map set, with the
clean-image and substrate probabilities shared by every map set (they do not
depend on the map).  Per-patch curves are cached like the maps; agreement
and localisation are cached per report (:mod:`reportgen.summary_cache`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from reportgen.cache import ArrayCache, cache_key
from reportgen.metrics.faithfulness import curve_auc, deletion_insertion_curves, make_substrate, target_probabilities
from reportgen.summary_cache import cached_agreement, cached_localisation, metric_code_version

logger = logging.getLogger(__name__)


@dataclass
class CurveSet:
    """Deletion and insertion curves of one map set, (N, steps + 1) each, and their AUCs (N,)."""

    deletion: np.ndarray
    insertion: np.ndarray

    @property
    def deletion_auc(self) -> np.ndarray:
        return curve_auc(self.deletion)

    @property
    def insertion_auc(self) -> np.ndarray:
        return curve_auc(self.insertion)


class CurveScorer:
    """Deletion/insertion curves for many map sets on the same patches.

    Parameters
    ----------
    model : classifier on (N, 3, H, W) float in [0, 1].
    images : (N, 3, H, W) float in [0, 1].
    targets : (N,) long, the tracked class.
    patch_indices : (N,) int, each patch's index in its split (cache keys).
    steps, seed, dataset_mean, batch_size, precision : as
        :func:`reportgen.metrics.faithfulness.deletion_insertion_curves`.
    cache, cache_context : per-patch curve cache and what else determines a curve.
    """

    def __init__(self, model, images, targets, patch_indices, *, steps, seed, dataset_mean, batch_size,
                 precision, cache: ArrayCache, cache_context: dict, progress: bool = True):
        self.model, self.images, self.targets = model, images, targets
        self.patch_indices = [int(i) for i in patch_indices]
        self.steps, self.seed, self.dataset_mean = steps, seed, dataset_mean
        self.batch_size, self.precision = batch_size, precision
        self.cache, self.cache_context, self.progress = cache, cache_context, progress
        self._endpoint_probs: dict[str, np.ndarray] = {}
        self._clean_probs: np.ndarray | None = None
        self.forward_passes = 0

    def _clean(self) -> np.ndarray:
        if self._clean_probs is None:
            self._clean_probs = target_probabilities(self.model, self.images, self.targets,
                                                     batch_size=self.batch_size, precision=self.precision)
            self.forward_passes += len(self.images)
        return self._clean_probs

    def _substrate(self, substrate: str) -> np.ndarray:
        if substrate not in self._endpoint_probs:
            background = make_substrate(self.images, substrate, dataset_mean=self.dataset_mean)
            self._endpoint_probs[substrate] = target_probabilities(
                self.model, background, self.targets, batch_size=self.batch_size, precision=self.precision)
            self.forward_passes += len(self.images)
        return self._endpoint_probs[substrate]

    def curves(self, name: str, maps: np.ndarray, *, mode: str, substrate: str, map_identity: dict) -> np.ndarray:
        """(N, steps + 1) curves for ``maps`` (N, H, W); cached per patch under ``map_identity``."""
        keys = [cache_key(kind="curve", mode=mode, substrate=substrate, steps=self.steps, seed=self.seed,
                          precision=self.precision, patch=patch, target=int(self.targets[i]),
                          map=map_identity, **self.cache_context)
                for i, patch in enumerate(self.patch_indices)]
        result = np.empty((len(maps), self.steps + 1), dtype=np.float64)
        missing = []
        for i, key in enumerate(keys):
            stored = self.cache.get(key)
            if stored is not None and stored.get("curve", np.empty(0)).shape == (self.steps + 1,):
                result[i] = stored["curve"]
            else:
                missing.append(i)
        if missing:
            rows = torch.as_tensor(missing)
            computed = deletion_insertion_curves(
                self.model, self.images[rows], maps[missing], self.targets[rows], mode=mode,
                substrate=substrate, steps=self.steps, seed=self.seed, dataset_mean=self.dataset_mean,
                batch_size=self.batch_size, precision=self.precision,
                clean_probs=self._clean()[missing], substrate_probs=self._substrate(substrate)[missing],
                progress=self.progress,
            )
            self.forward_passes += len(missing) * max(self.steps - 1, 0)
            for row, i in enumerate(missing):
                result[i] = computed[row]
                self.cache.put(keys[i], {"curve": computed[row]})
        logger.debug("%s %s (%s): %d of %d patches computed", name, mode, substrate, len(missing), len(maps))
        return result

    def score(self, name: str, maps: np.ndarray, *, deletion_substrate: str, insertion_substrate: str,
              map_identity: dict) -> CurveSet:
        """Deletion and insertion curves of one map set under the given substrates."""
        return CurveSet(
            deletion=self.curves(name, maps, mode="deletion", substrate=deletion_substrate, map_identity=map_identity),
            insertion=self.curves(name, maps, mode="insertion", substrate=insertion_substrate,
                                  map_identity=map_identity),
        )


@dataclass
class Scores:
    """Everything measured about the maps, as arrays and plain dicts (see :func:`score_all`)."""

    curves: dict[str, CurveSet]                # methods and references
    substrate_aucs: dict[str, dict[str, dict[str, np.ndarray]]]  # substrate -> mode -> name -> (N,)
    agreement: dict
    notes: list[str]
    localisation: dict[str, dict[str, np.ndarray | None]]
    sanity: dict | None
    reference_names: list[str]
    curve_forward_passes: int


def reference_maps(images: torch.Tensor, patch_indices, *, seed: int) -> dict[str, np.ndarray]:
    """The reference maps of METRICS.md for ``images`` (N, 3, H, W): random, centre prior, Sobel.

    The random map of each patch is seeded by the run seed and the patch's
    index, so it does not depend on which other patches are in the report.
    """
    from reportgen.explaining import patch_seed
    from reportgen.metrics.references import REFERENCE_MAPS

    maps = {}
    for name, make in REFERENCE_MAPS.items():
        if name == "random":
            maps[name] = np.concatenate([make(images[i : i + 1].cpu(), seed=patch_seed(seed, int(p)))
                                         for i, p in enumerate(patch_indices)])
        else:
            maps[name] = make(images.cpu(), seed=seed)
    return maps


def score_all(model, images, targets, patch_indices, masks, methods, *, config, dataset_mean, cache, cache_context,
              watch, progress=True) -> Scores:
    """Faithfulness (methods and references), substrate rankings, agreement, localisation and sanity.

    Parameters
    ----------
    methods : name -> :class:`reportgen.explaining.MethodResult` with ``maps`` (N, H, W).
    masks : (N, H, W) uint8 ground-truth tumour masks, or ``None``.
    watch : :class:`reportgen.runtime.Stopwatch` to time each stage.
    """
    scorer = CurveScorer(model, images, targets, patch_indices, steps=config.steps, seed=config.seed,
                         dataset_mean=dataset_mean, batch_size=config.batch_size, precision=config.precision,
                         cache=cache, cache_context=cache_context, progress=progress)
    with watch.stage("references"):
        references = reference_maps(images, patch_indices, seed=config.seed)
    maps = {**{name: result.maps for name, result in methods.items()}, **references}
    identity = {name: {"method": name, "settings": result.settings} for name, result in methods.items()}
    identity.update({name: {"reference": name, "seed": config.seed} for name in references})

    with watch.stage("curves"):
        curves = {name: scorer.score(name, maps[name], deletion_substrate=config.deletion_substrate,
                                     insertion_substrate=config.insertion_substrate, map_identity=identity[name])
                  for name in maps}
    substrate_aucs: dict = {}
    if config.compare_substrates:
        from reportgen.metrics.faithfulness import SUBSTRATES

        with watch.stage("substrate_comparison"):
            for substrate in SUBSTRATES:
                substrate_aucs[substrate] = {
                    mode: {name: curve_auc(scorer.curves(name, maps[name], mode=mode, substrate=substrate,
                                                         map_identity=identity[name]))
                           for name in maps}
                    for mode in ("deletion", "insertion")
                }

    code = metric_code_version()
    with watch.stage("agreement"):
        method_maps = {name: result.maps for name, result in methods.items()}
        titles = {name: result.title for name, result in methods.items()}
        agreement, notes = cached_agreement(method_maps, titles, n_images=len(images), seed=config.seed,
                                            cache=cache, code=code)

    with watch.stage("localisation"):
        localisation = cached_localisation(maps, masks, seed=config.seed, cache=cache, code=code)

    sanity = None
    if config.sanity_images > 0:
        with watch.stage("sanity"):
            sanity = sanity_checks(model, images, targets, patch_indices, methods, config=config, cache=cache,
                                   cache_context=cache_context)
    return Scores(curves=curves, substrate_aucs=substrate_aucs, agreement=agreement, notes=notes,
                  localisation=localisation, sanity=sanity, reference_names=list(references),
                  curve_forward_passes=scorer.forward_passes)


#: Cascade stages of the sanity check for a ResNet-18 classifier, head first.  The
#: head and the last block are randomised one at a time; the rest together, which
#: keeps the check affordable for LIME (every stage re-explains every patch).
SANITY_STAGES = (
    ("backbone.fc",),
    ("backbone.layer4",),
    ("backbone.layer3", "backbone.layer2", "backbone.layer1", "backbone.conv1", "backbone.bn1"),
)


def sanity_checks(model, images, targets, patch_indices, methods, *, config, cache, cache_context) -> dict:
    """Model-parameter randomisation (Adebayo et al., 2018) on the first ``config.sanity_images`` patches.

    Per-patch similarities are cached: re-initialisation is seeded per stage,
    not per image set, so a patch's similarities do not depend on the others.
    A method passes when its mean similarity after the last stage is below
    :data:`reportgen.metrics.sanity.SIMILARITY_THRESHOLD`.
    """
    from reportgen.explaining import patch_explainer
    from reportgen.metrics.sanity import SIMILARITY_THRESHOLD, cascading_randomisation

    count = min(config.sanity_images, len(images))
    stage_names = ["+".join(stage) for stage in SANITY_STAGES]
    results = {}
    for name, result in methods.items():
        keys = [cache_key(kind="sanity", method=name, settings=result.settings, patch=int(patch_indices[i]),
                          target=int(targets[i]), seed=config.seed, stages=stage_names, **cache_context)
                for i in range(count)]
        per_image = np.full((len(SANITY_STAGES), count), np.nan)
        missing = []
        for i, key in enumerate(keys):
            stored = cache.get(key)
            if stored is not None and stored.get("similarity", np.empty(0)).shape == (len(SANITY_STAGES),):
                per_image[:, i] = stored["similarity"]
            else:
                missing.append(i)
        if missing:
            subset = [int(patch_indices[i]) for i in missing]

            def explain_fn(randomised_model, batch_images, batch_targets, _name=name, _patches=subset):
                return np.concatenate([
                    patch_explainer(_name, randomised_model, _patches[j], config)
                    .explain(batch_images[j : j + 1], batch_targets[j : j + 1]).maps
                    for j in range(len(batch_images))
                ])

            rows = torch.as_tensor(missing)
            outcome = cascading_randomisation(model, explain_fn, images[rows], targets[rows], seed=config.seed,
                                              layers=[list(stage) for stage in SANITY_STAGES],
                                              original_maps=result.maps[missing])
            for column, i in enumerate(missing):
                per_image[:, i] = outcome.per_image[:, column]
                cache.put(keys[i], {"similarity": outcome.per_image[:, column]})
        similarity = per_image.mean(axis=1)
        results[name] = {
            "stages": stage_names,
            "similarity": [float(v) for v in similarity],
            "per_image_final": [float(v) for v in per_image[-1]],
            "threshold": SIMILARITY_THRESHOLD,
            "passed": bool(similarity[-1] < SIMILARITY_THRESHOLD),
        }
    return {"images": count, "methods": results}
