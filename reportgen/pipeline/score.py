"""Score every map: faithfulness curves, agreement and localisation (docs/metrics.md), and the substrates' drift.

Curves are computed for the explanation methods and for the reference maps
(random, centre prior, Sobel edges) in one batched pass per map set, with the
clean-image and substrate probabilities shared by every map set (they do not
depend on the map).  Per-patch curves are cached like the maps; agreement and
localisation take well under a second and are computed every build.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from reportgen.cache import ArrayCache
from reportgen.config import BuildConfig
from reportgen.metrics.agreement import agreement_matrix, combine_agreement
from reportgen.metrics.faithfulness import (
    MODES,
    SUBSTRATES,
    curve_auc,
    deletion_insertion_curves,
    least_relevant_first,
    make_substrate,
    symmetric_relevance_gain,
    target_probabilities,
)
from reportgen.metrics.localisation import centre_mass, mass_in_mask, pointing_game
from reportgen.metrics.references import REFERENCE_MAPS
from reportgen.metrics.substrate_scope import SCOPE_FRACTIONS, substrate_drift
from reportgen.pipeline.explain import MethodResult
from reportgen.pipeline.join import ADDED, joined_by
from reportgen.runtime import Stopwatch, derive_seed

logger = logging.getLogger(__name__)

#: What the substrate comparison ranks the methods by: its key -> the :class:`CurveSet` attribute.
SUBSTRATE_METRICS = {"deletion": "deletion_auc", "insertion": "insertion_auc", "srg": "srg"}


@dataclass
class CurveSet:
    """Curves of one map set, (N, steps + 1) each, and their AUCs (N,).

    ``deletion`` removes the most relevant pixels first (MIF), ``least_first`` the least relevant
    first (LIF), both onto the deletion substrate; ``insertion`` restores the most relevant first.
    """

    deletion: np.ndarray
    insertion: np.ndarray
    least_first: np.ndarray

    @property
    def deletion_auc(self) -> np.ndarray:
        return curve_auc(self.deletion)

    @property
    def insertion_auc(self) -> np.ndarray:
        return curve_auc(self.insertion)

    @property
    def lif_auc(self) -> np.ndarray:
        return curve_auc(self.least_first)

    @property
    def srg(self) -> np.ndarray:
        """(N,) symmetric relevance gain, AUC(LIF) - AUC(MIF) (:func:`symmetric_relevance_gain`)."""
        return symmetric_relevance_gain(self.least_first, self.deletion)


@dataclass
class Scores:
    """Everything measured about the maps, as arrays and plain dicts (see :func:`score_maps`).

    Attributes
    ----------
    curves : name -> curves, for the methods and the reference maps.
    reference_names : the reference maps' names, in report order.
    substrate_aucs : substrate -> mode -> name -> (N,) AUCs; empty unless ``compare_substrates``.
    agreement : :func:`reportgen.metrics.agreement.agreement_matrix` of the methods.
    localisation : name -> metric -> (N,) float64, ``None`` for the mask metrics without masks.
    curve_forward_passes : image-passes the curves spent in this run.
    substrate_drift : substrate -> (drift (N, F), top-1 changed (N, F)) when a random share of the pixels
        is replaced (:func:`reportgen.metrics.substrate_scope.substrate_drift`).
    """

    curves: dict[str, CurveSet]
    reference_names: list[str]
    substrate_aucs: dict[str, dict[str, dict[str, np.ndarray]]]
    # Its means are taken again over all patches when chunks are joined (:mod:`reportgen.pipeline.join`).
    agreement: dict = field(metadata=joined_by(combine_agreement))
    localisation: dict[str, dict[str, np.ndarray | None]]
    curve_forward_passes: int = field(metadata=ADDED)
    substrate_drift: dict[str, tuple[np.ndarray, np.ndarray]]


class CurveScorer:
    """Deletion/insertion curves for many map sets on the same patches, cached per patch.

    Parameters
    ----------
    model : classifier on (N, 3, H, W) float in [0, 1].
    images : (N, 3, H, W) float in [0, 1].
    targets : (N,) long, the tracked class.
    patch_indices : (N,) int, each patch's index in its split (cache keys).
    config : steps, seed, batch size and precision of the curves.
    dataset_mean : (r, g, b) of the ``mean`` substrate.
    cache, cache_context : per-patch curve cache and what else determines a curve.
    """

    def __init__(self, model, images, targets, patch_indices, *, config: BuildConfig, dataset_mean,
                 cache: ArrayCache, cache_context: dict, progress: bool = True):
        self.model, self.images, self.targets = model, images, targets
        self.patch_indices = [int(i) for i in patch_indices]
        self.config, self.dataset_mean = config, dataset_mean
        self.cache, self.cache_context, self.progress = cache, cache_context, progress
        self._endpoint_probs: dict[str, np.ndarray] = {}
        self._clean_probs: np.ndarray | None = None
        self.forward_passes = 0

    def _probabilities(self, images: torch.Tensor) -> np.ndarray:
        self.forward_passes += len(images)
        return target_probabilities(self.model, images, self.targets, batch_size=self.config.batch_size,
                                    precision=self.config.precision)

    def _clean(self) -> np.ndarray:
        if self._clean_probs is None:
            self._clean_probs = self._probabilities(self.images)
        return self._clean_probs

    def _substrate(self, substrate: str) -> np.ndarray:
        if substrate not in self._endpoint_probs:
            background = make_substrate(self.images, substrate, dataset_mean=self.dataset_mean)
            self._endpoint_probs[substrate] = self._probabilities(background)
        return self._endpoint_probs[substrate]

    def curves(self, name: str, maps: np.ndarray, *, mode: str, substrate: str, map_identity: dict) -> np.ndarray:
        """(N, steps + 1) curves for ``maps`` (N, H, W); cached per patch under ``map_identity``."""
        steps = self.config.steps
        keys = [self.cache.key(kind="curve", mode=mode, substrate=substrate, steps=steps, seed=self.config.seed,
                               precision=self.config.precision, patch=patch, target=int(self.targets[i]),
                               map=map_identity, **self.cache_context)
                for i, patch in enumerate(self.patch_indices)]

        def compute(missing: list[int]) -> list[dict[str, np.ndarray]]:
            # Missing curves are computed together, in batches across patches, then stored one per patch.
            rows = torch.as_tensor(missing)
            computed = deletion_insertion_curves(
                self.model, self.images[rows], maps[missing], self.targets[rows], mode=mode,
                substrate=substrate, steps=steps, seed=self.config.seed, dataset_mean=self.dataset_mean,
                batch_size=self.config.batch_size, precision=self.config.precision,
                clean_probs=self._clean()[missing], substrate_probs=self._substrate(substrate)[missing],
                progress=self.progress,
            )
            self.forward_passes += len(missing) * max(steps - 1, 0)
            return [{"curve": row} for row in computed]

        entries, missing = self.cache.memo_rows(keys, compute, lambda entry: entry["curve"].shape == (steps + 1,))
        logger.debug("%s %s (%s): %d of %d patches computed", name, mode, substrate, len(missing), len(maps))
        return np.stack([entry["curve"] for entry in entries]).astype(np.float64)

    def drift(self, substrate: str, random_maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(drift (N, F), top-1 changed (N, F)) of ``substrate`` (:func:`substrate_drift`), cached per patch: the
        random map is the seeded one of each patch, so the patch, seed and substrate determine the entry."""
        keys = [self.cache.key(kind="substrate-drift", substrate=substrate, seed=self.config.seed,
                               precision=self.config.precision, patch=patch, target=int(self.targets[i]),
                               **self.cache_context)
                for i, patch in enumerate(self.patch_indices)]
        entries, _ = self.cache.memo_rows(keys, lambda missing: _drift_rows(self, substrate, random_maps, missing),
                                          lambda entry: entry["drift"].shape == (len(SCOPE_FRACTIONS),))
        if not entries:
            return np.empty((0, len(SCOPE_FRACTIONS))), np.empty((0, len(SCOPE_FRACTIONS)), dtype=bool)
        return (np.stack([entry["drift"] for entry in entries]).astype(np.float64),
                np.stack([entry["flipped"] for entry in entries]).astype(bool))


def _drift_rows(scorer: CurveScorer, substrate: str, random_maps: np.ndarray, missing: list[int]) -> list[dict]:
    rows = torch.as_tensor(missing)
    config = scorer.config
    drift, flipped = substrate_drift(scorer.model, scorer.images[rows], random_maps[missing], scorer.targets[rows],
                                     substrate=substrate, seed=config.seed, dataset_mean=scorer.dataset_mean,
                                     precision=config.precision)
    return [{"drift": drift[i], "flipped": flipped[i]} for i in range(len(missing))]


def curve_set(scorer: CurveScorer, name: str, maps: np.ndarray, identity: dict, *, deletion: str,
              insertion: str) -> CurveSet:
    """Deletion (most relevant first), insertion and least-relevant-first deletion curves of ``maps`` (N, H, W)."""
    most_first = [scorer.curves(name, maps, mode=mode, substrate=substrate, map_identity=identity)
                  for mode, substrate in zip(MODES, (deletion, insertion))]
    least_first = scorer.curves(name, least_relevant_first(maps), mode="deletion", substrate=deletion,
                                map_identity={**identity, "order": "least_relevant_first"})
    return CurveSet(*most_first, least_first=least_first)


def reference_maps(images: torch.Tensor, patch_indices, *, seed: int) -> dict[str, np.ndarray]:
    """The reference maps of docs/metrics.md#reference-maps for ``images`` (N, 3, H, W): random, centre prior, Sobel.

    The random map of each patch is seeded by the run seed and the patch's
    index, so it does not depend on which other patches are in the report.
    """
    maps = {}
    for name, make in REFERENCE_MAPS.items():
        if name == "random":
            maps[name] = np.concatenate([make(images[i : i + 1].cpu(), seed=derive_seed(seed, int(p)))
                                         for i, p in enumerate(patch_indices)])
        else:
            maps[name] = make(images.cpu(), seed=seed)
    return maps


def localisation_scores(maps: dict[str, np.ndarray], masks: np.ndarray | None, *, seed: int
                        ) -> dict[str, dict[str, np.ndarray | None]]:
    """Centre mass, pointing game and mass in mask of every map set (N, H, W); mask metrics need ``masks``."""
    return {name: {"centre_mass": centre_mass(values),
                   "pointing_game": pointing_game(values, masks, seed=seed) if masks is not None else None,
                   "mass_in_mask": mass_in_mask(values, masks) if masks is not None else None}
            for name, values in maps.items()}


def score_maps(model, images, targets, patch_indices, masks, methods: dict[str, MethodResult], *,
               config: BuildConfig, dataset_mean, cache: ArrayCache, cache_context: dict, watch: Stopwatch,
               progress: bool = True) -> Scores:
    """Faithfulness (methods and references), substrate rankings, agreement and localisation.

    Parameters
    ----------
    images : (N, 3, H, W) float in [0, 1]; targets : (N,) long.
    masks : (N, H, W) uint8 ground-truth tumour masks, or ``None``.
    methods : name -> maps (N, H, W) of each method.
    watch : times each stage.
    """
    scorer = CurveScorer(model, images, targets, patch_indices, config=config, dataset_mean=dataset_mean,
                         cache=cache, cache_context=cache_context, progress=progress)
    with watch.stage("references"):
        references = reference_maps(images, patch_indices, seed=config.seed)
    maps = {**{name: result.maps for name, result in methods.items()}, **references}
    identity = {name: {"method": name, "settings": result.settings} for name, result in methods.items()}
    identity.update({name: {"reference": name, "seed": config.seed} for name in references})

    with watch.stage("curves"):
        curves = {name: curve_set(scorer, name, maps[name], identity[name], deletion=config.deletion_substrate,
                                  insertion=config.insertion_substrate) for name in maps}
    substrate_aucs: dict = {}
    if config.compare_substrates:
        with watch.stage("substrate_comparison"):
            for substrate in SUBSTRATES:
                both = {name: curve_set(scorer, name, maps[name], identity[name], deletion=substrate,
                                        insertion=substrate) for name in maps}
                substrate_aucs[substrate] = {metric: {name: getattr(both[name], attribute) for name in maps}
                                             for metric, attribute in SUBSTRATE_METRICS.items()}
    with watch.stage("substrate_scope"):
        drift = {substrate: scorer.drift(substrate, maps["random"]) for substrate in SUBSTRATES}
    with watch.stage("agreement"):
        agreement = agreement_matrix({name: result.maps for name, result in methods.items()})
    with watch.stage("localisation"):
        localisation = localisation_scores(maps, masks, seed=config.seed)
    return Scores(curves=curves, reference_names=list(references), substrate_aucs=substrate_aucs,
                  agreement=agreement, localisation=localisation,
                  curve_forward_passes=scorer.forward_passes, substrate_drift=drift)
