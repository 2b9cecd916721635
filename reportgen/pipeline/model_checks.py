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

Every patch's forward passes are cached per patch, keyed by checkpoint, data, patch, seed, substrate,
the data's stain amounts and the patch's donor, so a rebuild computes nothing again.  One patch goes
through the model at a time, so its probabilities do not depend, even in their last bits, on which other
patches a run had still to compute.  The step runs in the whole-report path only (a build or a merge,
never a shard), so a merged report equals an unsharded one.
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
#: this size.  2048 patches from a few dozen slides put the half-width of a flip rate's 95 % interval near 0.02-0.05,
#: well inside the distance between a rate and its limit that decides anything, for about one minute of CPU per
#: thousand patches (docs/metrics.md#model-level-checks).
MODEL_CHECK_PATCHES = 2048
#: The sample of a larger split is drawn from ``SeedSequence([run seed, MODEL_CHECK_SEED_OFFSET])``, a stream of
#: its own (the stain reference's is :data:`reportgen.pipeline.stain.STAIN_SEED_OFFSET`).
MODEL_CHECK_SEED_OFFSET = 104729
#: Patches read and perturbed together; their forward passes still go one patch at a time.
PATCHES_PER_READ = 128
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


def _rows(model, read: Reader, indices: np.ndarray, donors: np.ndarray | None, *, config: BuildConfig,
          dataset_mean, amounts: np.ndarray | None, seconds: dict[str, float]) -> list[dict[str, np.ndarray]]:
    """Each patch's forward passes (one entry per index): ``clean`` (2,) probabilities; ``removed`` (2,) tumour
    probability without the periphery, without the centre; ``periphery_only`` () int8 (-1 without a mask); with
    the stain step, ``after`` (C + 1, 2) probabilities under each condition and the donor's stain, ``unchanged``
    (C + 1,) bool, ``rgb_change`` (C,), ``amounts`` (3,) the patch's stain amounts."""
    images, masks = read(indices)
    kwargs = {"batch_size": 1, "precision": config.precision}
    started = time.perf_counter()
    clean = predict_proba(model, images, **kwargs).double().numpy()
    centre = centre_region(*images.shape[-2:])
    substrate = make_substrate(images, config.deletion_substrate, dataset_mean=dataset_mean)
    removed = np.stack([tumour_probability_without(model, images, ~centre, substrate, **kwargs),
                        tumour_probability_without(model, images, centre, substrate, **kwargs)], axis=1)
    seconds["periphery_centre"] = seconds.get("periphery_centre", 0.0) + time.perf_counter() - started
    hard = (np.full(len(indices), -1, dtype=np.int8) if masks is None
            else periphery_only_tumour(masks).astype(np.int8))
    rows = [{"clean": clean[i], "removed": removed[i], "periphery_only": hard[i]} for i in range(len(indices))]
    if donors is None:
        return rows
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
    for i, row in enumerate(rows):
        row.update(after=np.stack([values[i] for values in after]), unchanged=np.array([k[i] for k in unchanged]),
                   rgb_change=np.array([values[i] for values in rgb]), amounts=own[i])
    return rows


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
    keys = [cache.key(patch=int(patch), donor=None if donor_indices is None else int(donor_indices[row]),
                      **identity) for row, patch in enumerate(patch_indices)]
    conditions = len(CONDITIONS)
    seconds: dict[str, float] = {}

    def valid(entry) -> bool:
        shapes = entry["clean"].shape == (2,) and entry["removed"].shape == (2,)
        if with_stain:
            shapes = shapes and entry["after"].shape == (conditions + 1, 2) and entry["rgb_change"].shape == (conditions,)
        return shapes and bool(np.isfinite(entry["clean"]).all())

    bar = tqdm(desc="model checks", unit="patch", disable=not progress)

    def compute(missing: list[int]) -> list[dict[str, np.ndarray]]:
        bar.reset(total=len(missing))
        rows = []
        for start in range(0, len(missing), PATCHES_PER_READ):
            part = np.asarray(missing[start:start + PATCHES_PER_READ])
            rows += _rows(model, read, patch_indices[part], None if not with_stain else donor_indices[part],
                          config=config, dataset_mean=dataset_mean, amounts=stain_amounts, seconds=seconds)
            bar.update(len(part))
        return rows

    entries, computed = cache.memo_rows(keys, compute, valid)
    bar.close()
    if computed:
        logger.info("model checks: %d of %d patches computed in %.1f s (%s)", len(computed), len(keys),
                    sum(seconds.values()), ", ".join(f"{part} {value:.1f} s" for part, value in seconds.items()))
    clean = np.stack([entry["clean"] for entry in entries])
    removed = np.stack([entry["removed"] for entry in entries])
    hard = np.array([int(entry["periphery_only"]) for entry in entries])
    stain = other = None
    if with_stain:
        after = np.stack([entry["after"] for entry in entries])
        unchanged = np.stack([entry["unchanged"] for entry in entries]).astype(bool)
        rgb = np.stack([entry["rgb_change"] for entry in entries])
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
            amounts = np.stack([entry["amounts"] for entry in entries])
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
