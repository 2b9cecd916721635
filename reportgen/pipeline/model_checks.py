"""The model-level checks on every evaluated patch: forward passes only, so they need no explanation.

Two of the audit's checks ask what the model decides, not what a method explains: the
right-for-the-right-reason test (is a tumour call lost once everything outside the centre 32x32 is
replaced by the deletion substrate, kept once the centre is; :mod:`reportgen.metrics.evidence`) and the
model's stain rules (its prediction flip rate under each stain condition and its movement toward the
class whose stain a patch is given; :mod:`reportgen.metrics.stain`).  Each is a few forward passes per
patch, so they run on every patch the build evaluated (:func:`model_check_indices`; a seeded sample of
:data:`MODEL_CHECK_PATCHES` where the split is larger), not on the few explained ones, and their
intervals over slides are narrow enough to decide against the limits.  What re-explains (the maps under
a stain change, the sanity cascade, each method's attribution shares) stays on the explained patches
(:mod:`reportgen.pipeline.evidence`, :mod:`reportgen.pipeline.stain`).

The patches go through the model in fixed blocks of :data:`PATCHES_PER_BLOCK` consecutive patches of the
sample, one forward pass per block and perturbation (on a CPU a ResNet-18 takes about a hundred times longer
per patch one patch at a time).  Each block's results are one cache entry, keyed by checkpoint, data, its
patches, their donors, seed, substrate and the data's stain amounts (and the code version), so a rebuild
computes nothing again, and a block's numbers never depend, even in their last bits, on which other blocks a
run had still to compute.  The step runs in the whole-report path only (a build or a merge, never a shard),
on the same sample and so the same blocks, so a merged report equals an unsharded one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from reportgen.cache import ArrayCache
from reportgen.config import BuildConfig
from reportgen.inference import predict_proba
from reportgen.metrics.evidence import TUMOUR, periphery_only_tumour, tumour_probability_without
from reportgen.metrics.faithfulness import make_substrate
from reportgen.metrics.localisation import centre_region
from reportgen.metrics.stain import (
    CONDITIONS,
    match_stain_amounts,
    mean_rgb_change,
    patch_stain_amounts,
    toward_donor_class,
)
from reportgen.pipeline.stain import ClassStainOutcome, donor_positions, perturb

logger = logging.getLogger(__name__)

#: At most this many evaluated patches go through the model-level checks; a larger split gives a seeded sample of
#: this size.  The demo's 1024 patches from 32 slides put the half-width of a rate's 95 % interval at 0.01 to 0.035,
#: small beside the limits' distances from zero, in about 95 s on a shared 2-core CPU; twice that many narrow it
#: further for twice the time (docs/metrics.md#model-level-checks).
MODEL_CHECK_PATCHES = 2048
#: The sample of a larger split is drawn from ``SeedSequence([run seed, MODEL_CHECK_SEED_OFFSET])``, a stream of
#: its own (the stain reference's is :data:`reportgen.pipeline.stain.STAIN_SEED_OFFSET`).
MODEL_CHECK_SEED_OFFSET = 104729
#: Patches read, perturbed and passed through the model together, and cached as one entry: consecutive patches of
#: the sample.  128 patches hold about 14 MiB of float images, and fill a CPU's or a GPU's batch.
PATCHES_PER_BLOCK = 128
#: The perturbation behind each column of a patch's ``after`` and ``unchanged`` rows: the stain conditions in
#: report order, then the other class's stain.
CLASS_STAIN = "class_stain"


def model_check_indices(evaluated, *, seed: int) -> tuple[np.ndarray, str]:
    """The split indices the model-level checks run on, in split order, and how they were chosen in words.

    Every evaluated patch when there are at most :data:`MODEL_CHECK_PATCHES`; otherwise that many drawn
    without replacement by ``np.random.default_rng([seed, MODEL_CHECK_SEED_OFFSET])``.
    """
    evaluated = np.sort(np.asarray(evaluated, dtype=np.int64))
    if len(evaluated) <= MODEL_CHECK_PATCHES:
        return evaluated, f"every evaluated patch ({len(evaluated)})"
    generator = np.random.default_rng([seed, MODEL_CHECK_SEED_OFFSET])
    chosen = np.sort(generator.choice(evaluated, size=MODEL_CHECK_PATCHES, replace=False))
    return chosen, (f"{MODEL_CHECK_PATCHES} of the {len(evaluated)} evaluated patches, drawn without replacement "
                    f"from SeedSequence([{seed}, {MODEL_CHECK_SEED_OFFSET}])")


@dataclass
class StainDecision:
    """What one stain condition did to the model's decisions on the sample, (M,) per patch.

    flipped : 1.0 where the predicted class changed; probability_change : tumour probability after minus before;
    rgb_change : mean absolute RGB change; unchanged : True where the condition could not be applied.
    """

    flipped: np.ndarray
    probability_change: np.ndarray
    rgb_change: np.ndarray
    unchanged: np.ndarray


@dataclass
class ModelCheckOutcome:
    """The model-level checks on M evaluated patches.

    Attributes
    ----------
    patch_indices, labels : (M,) split indices (in split order) and labels; slides : (M,) slide ids or ``None``.
    evaluated : how many patches the build evaluated; chosen : how the M were chosen, in words.
    tumour_clean, without_periphery, without_centre : (M,) float64 tumour probability of the patch, with everything
        outside the centre region replaced by the deletion substrate, and with the centre region replaced.
    periphery_only : (M,) bool, tumour only outside the centre (:func:`periphery_only_tumour`), or ``None``
        without masks.
    stain : condition -> :class:`StainDecision`, or ``None`` when the stain step is off (``--stain-images 0``).
    class_stain : the other class's stain on the same patches, or ``None`` (stain step off, or one class only).
    seconds : part (``"periphery_centre"``, each condition, ``"class_stain"``) -> seconds this run spent on it
        (0 for parts read from the cache).
    """

    patch_indices: np.ndarray
    labels: np.ndarray
    slides: np.ndarray | None
    evaluated: int
    chosen: str
    tumour_clean: np.ndarray
    without_periphery: np.ndarray
    without_centre: np.ndarray
    periphery_only: np.ndarray | None
    stain: dict[str, StainDecision] | None
    class_stain: ClassStainOutcome | None
    seconds: dict[str, float]

    @property
    def slide_count(self) -> int | None:
        """How many slides the patches come from, or ``None`` without slide ids."""
        return None if self.slides is None else len(set(np.asarray(self.slides).tolist()))


#: Reads patches by split index: (n,) int -> ((n, 3, H, W) float in [0, 1] on the model's device, (n, H, W) masks
#: or ``None``).
Reader = Callable[[np.ndarray], tuple[torch.Tensor, np.ndarray | None]]


def split_reader(split, device: torch.device) -> Reader:
    """A :data:`Reader` of a data split (``split.read``), its images moved to ``device``."""
    from reportgen.data import as_float_tensor

    def read(indices: np.ndarray):
        batch = split.read(np.asarray(indices, dtype=np.int64))
        return as_float_tensor(batch.images).to(device), batch.masks

    return read


def _block(model, read: Reader, indices: np.ndarray, donors: np.ndarray | None, *, config: BuildConfig,
           dataset_mean, amounts: np.ndarray | None, seconds: dict[str, float]) -> dict[str, np.ndarray]:
    """One block's forward passes, (n,) leading: ``clean`` (n, 2) probabilities; ``removed`` (n, 2) tumour
    probability without the periphery, without the centre; ``periphery_only`` (n,) int8 (-1 without masks); with
    ``donors``, ``after`` (n, C + 1, 2) probabilities under each condition and the donor's stain, ``unchanged``
    (n, C + 1) bool, ``rgb_change`` (n, C), ``amounts`` (n, 3) each patch's stain amounts."""
    images, masks = read(indices)
    # The whole block in one pass, whatever --batch-size says: its numbers then depend on the block alone.
    kwargs = {"batch_size": len(indices), "precision": config.precision}
    started = time.perf_counter()
    clean = predict_proba(model, images, **kwargs).double().numpy()
    centre = centre_region(*images.shape[-2:])
    substrate = make_substrate(images, config.deletion_substrate, dataset_mean=dataset_mean)
    removed = np.stack([tumour_probability_without(model, images, ~centre, substrate, **kwargs),
                        tumour_probability_without(model, images, centre, substrate, **kwargs)], axis=1)
    seconds["periphery_centre"] = seconds.get("periphery_centre", 0.0) + time.perf_counter() - started
    hard = (np.full(len(indices), -1, dtype=np.int8) if masks is None
            else periphery_only_tumour(masks).astype(np.int8))
    entry = {"clean": clean, "removed": removed, "periphery_only": hard}
    if donors is None:
        return entry
    after, unchanged, rgb = [], [], []
    for condition in CONDITIONS:
        started = time.perf_counter()
        perturbed, kept = perturb(condition, images, indices, seed=config.seed, amounts=amounts)
        after.append(predict_proba(model, torch.as_tensor(perturbed).to(images.device), **kwargs).double().numpy())
        unchanged.append(kept)
        rgb.append(mean_rgb_change(images, perturbed))
        seconds[condition] = seconds.get(condition, 0.0) + time.perf_counter() - started
    started = time.perf_counter()
    own = patch_stain_amounts(images)
    donor_images, _ = read(donors)
    perturbed, kept = match_stain_amounts(images, patch_stain_amounts(donor_images))
    after.append(predict_proba(model, torch.as_tensor(perturbed).to(images.device), **kwargs).double().numpy())
    unchanged.append(kept)
    seconds[CLASS_STAIN] = seconds.get(CLASS_STAIN, 0.0) + time.perf_counter() - started
    entry.update(after=np.stack(after, axis=1), unchanged=np.stack(unchanged, axis=1),
                 rgb_change=np.stack(rgb, axis=1), amounts=own)
    return entry


def model_checks(model: torch.nn.Module, read: Reader, patch_indices, labels, *, slides=None, evaluated: int,
                 chosen: str, config: BuildConfig, dataset_mean, stain_amounts: np.ndarray | None,
                 cache: ArrayCache, cache_context: dict, progress: bool = True) -> ModelCheckOutcome:
    """Run the model-level checks on ``patch_indices`` (from :func:`model_check_indices`).

    Parameters
    ----------
    model : classifier on (B, 3, H, W) float in [0, 1] with two classes (tumour = 1), in eval mode.
    read : :data:`Reader` of the split (:func:`split_reader`).
    patch_indices : (M,) split indices; labels : (M,) 0 or 1; slides : (M,) slide ids or ``None`` (default).
    evaluated, chosen : how many patches the build evaluated and how the M were chosen (for the record).
    config : the build's configuration (seed, deletion substrate, precision).
    dataset_mean : (r, g, b), the ``mean`` substrate's colour.
    stain_amounts : (3,) the data's stain amounts (:func:`reportgen.metrics.stain.stain_amounts` of the stain
        reference), or ``None`` to skip the stain conditions and the other class's stain.
    cache, cache_context : as for :func:`reportgen.pipeline.score.score_maps`.
    """
    patch_indices = np.asarray(patch_indices, dtype=np.int64)
    labels = np.asarray(labels).astype(np.int64)
    with_stain = stain_amounts is not None
    donors = donor_positions(labels, patch_indices, seed=config.seed) if with_stain else None
    # A one-class sample has no donor: the conditions still run, the other class's stain does not.
    class_stain = with_stain and not np.any(donors < 0)
    donor_indices = (patch_indices[donors] if class_stain else patch_indices) if with_stain else None
    identity = {"kind": "model-check", "seed": config.seed, "substrate": config.deletion_substrate,
                "dataset_mean": [float(v) for v in dataset_mean] if config.deletion_substrate == "mean" else None,
                "precision": config.precision, **cache_context,
                "stain_amounts": None if not with_stain else [float(v) for v in stain_amounts]}
    blocks = [np.arange(start, min(start + PATCHES_PER_BLOCK, len(patch_indices)))
              for start in range(0, len(patch_indices), PATCHES_PER_BLOCK)]
    keys = [cache.key(patches=patch_indices[rows].tolist(),
                      donors=None if donor_indices is None else donor_indices[rows].tolist(), **identity)
            for rows in blocks]
    conditions = len(CONDITIONS)
    seconds: dict[str, float] = {}

    def valid(entry, size: int) -> bool:
        shapes = entry["clean"].shape == (size, 2) and entry["removed"].shape == (size, 2)
        if with_stain:
            shapes = (shapes and entry["after"].shape == (size, conditions + 1, 2)
                      and entry["rgb_change"].shape == (size, conditions))
        return shapes and bool(np.isfinite(entry["clean"]).all())

    bar = tqdm(desc="model checks", unit="patch", disable=not progress)

    def compute(missing: list[int]) -> list[dict[str, np.ndarray]]:
        bar.reset(total=sum(len(blocks[block]) for block in missing))
        entries = []
        for block in missing:
            rows = blocks[block]
            entries.append(_block(model, read, patch_indices[rows], None if not with_stain else donor_indices[rows],
                                  config=config, dataset_mean=dataset_mean, amounts=stain_amounts, seconds=seconds))
            bar.update(len(rows))
        return entries

    # A block's key names its patches, so an entry of the right shapes is that block's.
    entries, computed = cache.memo_rows(keys, compute, lambda entry: valid(entry, len(entry["clean"])))
    bar.close()
    if computed:
        logger.info("model checks: %d of %d patches computed in %.1f s (%s)",
                    sum(len(blocks[block]) for block in computed), len(patch_indices), sum(seconds.values()),
                    ", ".join(f"{part} {value:.1f} s" for part, value in seconds.items()))
    clean = np.concatenate([entry["clean"] for entry in entries])
    removed = np.concatenate([entry["removed"] for entry in entries])
    hard = np.concatenate([entry["periphery_only"] for entry in entries]).astype(np.int64)
    stain = other = None
    if with_stain:
        after = np.concatenate([entry["after"] for entry in entries])
        unchanged = np.concatenate([entry["unchanged"] for entry in entries]).astype(bool)
        rgb = np.concatenate([entry["rgb_change"] for entry in entries])
        before = clean.argmax(axis=1)
        stain = {}
        for column, condition in enumerate(list(CONDITIONS) + [CLASS_STAIN]):
            decision = StainDecision(flipped=(after[:, column].argmax(axis=1) != before).astype(np.float64),
                                     probability_change=after[:, column, TUMOUR] - clean[:, TUMOUR],
                                     rgb_change=rgb[:, column] if column < conditions else None,
                                     unchanged=unchanged[:, column])
            stain[condition] = decision
        measured = stain.pop(CLASS_STAIN)
        if class_stain:
            amounts = np.concatenate([entry["amounts"] for entry in entries])
            other = ClassStainOutcome(
                patch_indices=patch_indices, labels=labels, slides=slides, donors=donor_indices,
                flipped=measured.flipped, probability_change=measured.probability_change,
                toward_donor=toward_donor_class(measured.probability_change, labels[donors]),
                unchanged=measured.unchanged,
                class_amounts={label: np.median(amounts[labels == label], axis=0) for label in (1 - TUMOUR, TUMOUR)})
    return ModelCheckOutcome(
        patch_indices=patch_indices, labels=labels, slides=None if slides is None else np.asarray(slides, dtype=object),
        evaluated=int(evaluated), chosen=chosen, tumour_clean=clean[:, TUMOUR], without_periphery=removed[:, 0],
        without_centre=removed[:, 1], periphery_only=None if np.any(hard < 0) else hard.astype(bool), stain=stain,
        class_stain=other, seconds=seconds)
