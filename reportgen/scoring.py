"""Score every map: faithfulness curves, agreement, localisation (METRICS.md).

Curves are computed for the explanation methods and for the reference maps
(random, centre prior, Sobel edges) in one batched pass per map set, with the
clean-image and substrate probabilities shared by every map set (they do not
depend on the map).  Per-patch curves are cached like the maps; agreement
(with the per-patch notes) and localisation are cached per report, keyed by
the values of the maps (and masks), the seed and the source of the metric
code, so a template-only rebuild recomputes none of them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reportgen.cache import ArrayCache, cache_key
from reportgen.metrics.faithfulness import curve_auc, deletion_insertion_curves, make_substrate, target_probabilities

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

    code = _metric_code_version()
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


#: Modules whose code determines the agreement and localisation numbers and notes.
_SUMMARY_MODULES = ("reportgen.metrics.agreement", "reportgen.metrics.localisation",
                    "reportgen.metrics.faithfulness", "reportgen.metrics.stats")


def _metric_code_version() -> str:
    """SHA-256 of the source of :data:`_SUMMARY_MODULES`.

    Part of the agreement and localisation cache keys: their cached values
    include generated sentences, so a change to a threshold or a wording in
    the metric code must not be served stale from the cache.
    """
    import importlib

    digest = hashlib.sha256()
    for name in _SUMMARY_MODULES:
        module = sys.modules.get(name) or importlib.import_module(name)
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def arrays_digest(arrays: dict[str, np.ndarray | None]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of ``arrays`` (``None`` values included as such).

    Keys the cached summaries by the maps themselves, so whatever produced
    them (checkpoint, data, patches, targets, method settings), a summary is
    only ever served for exactly the same values.
    """
    digest = hashlib.sha256()
    for name, array in arrays.items():
        digest.update(name.encode("utf-8") + b"\0")
        if array is None:
            digest.update(b"none\0")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}\0".encode("ascii"))
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def _valid_agreement(value, methods: list[str], n_images: int) -> bool:
    """Whether a cached ``[agreement, notes]`` pair has the shape this report needs."""
    if not (isinstance(value, list) and len(value) == 2):
        return False
    agreement, notes = value
    if not (isinstance(agreement, dict) and agreement.get("methods") == methods):
        return False
    size = len(methods)
    try:
        per_image = agreement["per_image"]
        for key in ("spearman", "iou_top10"):
            matrix = agreement[key]
            if not (len(matrix) == size and all(len(row) == size for row in matrix)):
                return False
            if not all(value is None or isinstance(value, float) for row in matrix for value in row):
                return False
            cube = per_image[key]
            if not (len(cube) == size and all(len(row) == size for row in cube)):
                return False
            if not all(isinstance(cell, list) and len(cell) == n_images
                       and all(value is None or isinstance(value, float) for value in cell)
                       for row in cube for cell in row):
                return False
    except (KeyError, TypeError):
        return False
    return isinstance(notes, list) and len(notes) == n_images and all(isinstance(note, str) for note in notes)


def cached_agreement(method_maps: dict[str, np.ndarray], titles: dict[str, str], *, n_images: int, seed: int,
                     cache: ArrayCache, code: str) -> tuple[dict, list[str]]:
    """:func:`~reportgen.metrics.agreement.agreement_matrix` and one agreement note per patch, cached.

    Parameters
    ----------
    method_maps : method name -> (N, H, W) maps, in report order.
    titles : method name -> display title (part of the notes).
    n_images : N, the number of notes.
    seed : tie-break seed of the IoU.
    code : :func:`_metric_code_version`.

    Returns
    -------
    (agreement dict as from ``agreement_matrix``, list of N note strings).  A
    cached entry that does not parse or has the wrong shape is recomputed.
    """
    methods = list(method_maps)
    key = cache_key(kind="agreement", maps=arrays_digest(method_maps), titles=titles, n_images=n_images,
                    seed=seed, code=code)
    stored = cache.get(key)
    if stored is not None and "json" in stored and stored["json"].shape == ():
        try:
            value = json.loads(str(stored["json"]))
        except ValueError:
            value = None
        if _valid_agreement(value, methods, n_images):
            return value[0], value[1]
        logger.warning("ignoring an invalid cached agreement entry; recomputing")
    from reportgen.metrics.agreement import agreement_matrix, agreement_note

    agreement = agreement_matrix(method_maps, seed=seed)
    notes = [agreement_note({name: m[i] for name, m in method_maps.items()}, titles) for i in range(n_images)]
    cache.put(key, {"json": np.array(json.dumps([agreement, notes]))})
    return agreement, notes


_LOCALISATION_METRICS = ("centre_mass", "pointing_game", "mass_in_mask")


def cached_localisation(maps: dict[str, np.ndarray], masks, *, seed: int, cache: ArrayCache,
                        code: str) -> dict[str, dict[str, np.ndarray | None]]:
    """Centre mass, pointing game and mass in mask of every map set, cached.

    Parameters
    ----------
    maps : name -> (N, H, W) maps (methods and references).
    masks : (N, H, W) ground-truth masks, or ``None`` (then only centre mass).
    seed, code : as :func:`cached_agreement`.

    Returns
    -------
    name -> metric -> (N,) float64, or ``None`` for the mask metrics without
    masks.  A cached entry missing an array, or with one of another shape or
    dtype, is recomputed.
    """
    from reportgen.metrics.localisation import centre_mass, mass_in_mask, pointing_game

    n_images = len(next(iter(maps.values()))) if maps else 0
    wanted = [f"{name}.{metric}" for name in maps for metric in _LOCALISATION_METRICS
              if masks is not None or metric == "centre_mass"]
    key = cache_key(kind="localisation", maps=arrays_digest(maps), masks=arrays_digest({"masks": masks}),
                    seed=seed, code=code)
    stored = cache.get(key)
    if stored is not None and set(stored) == set(wanted) and all(
            stored[name].shape == (n_images,) and stored[name].dtype == np.float64 for name in wanted):
        return {name: {metric: stored.get(f"{name}.{metric}") for metric in _LOCALISATION_METRICS}
                for name in maps}
    if stored is not None:
        logger.warning("ignoring an invalid cached localisation entry; recomputing")
    localisation = {}
    for name, values in maps.items():
        localisation[name] = {
            "centre_mass": centre_mass(values),
            "pointing_game": pointing_game(values, masks, seed=seed) if masks is not None else None,
            "mass_in_mask": mass_in_mask(values, masks) if masks is not None else None,
        }
    cache.put(key, {f"{name}.{metric}": np.asarray(array, dtype=np.float64)
                    for name, entry in localisation.items() for metric, array in entry.items() if array is not None})
    return localisation


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
