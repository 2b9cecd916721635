"""Deletion and Insertion curves and their AUC.

Petsiuk, Das and Saenko, "RISE: Randomized Input Sampling for Explanation of
Black-box Models", BMVC 2018.  Every choice below follows docs/metrics.md#deletion-and-insertion-curves:

- Pixel positions are ranked by the attribution map, highest first; one rank
  applies to all three channels.  Ties are broken by one pseudo-random
  permutation of the H*W positions drawn from the seed (:func:`pixel_order`).
- ``steps`` steps give ``steps + 1`` points; after step k exactly
  ``round(k * H * W / steps)`` positions have been changed
  (:func:`changed_pixel_counts`).
- Deletion starts from the image and replaces the top-ranked positions with the
  substrate; insertion starts from the substrate and restores the top-ranked
  positions from the image.
- Each point is the softmax probability of the tracked class.
- AUC is the trapezoid over x in [0, 1] (:func:`curve_auc`); lower is better for
  deletion, higher for insertion.

:func:`deletion_insertion_curves` builds the perturbed images for many
(image, step) pairs at once and streams them through
:func:`reportgen.inference.predict_proba`; :func:`curves_one_at_a_time` is the
plain reference it must match.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from fractions import Fraction

import numpy as np
import torch
from torchvision.transforms.functional import gaussian_blur
from tqdm import tqdm

from reportgen.errors import ConfigError, DataError, unknown_name_error
from reportgen.inference import predict_proba

logger = logging.getLogger(__name__)

MODES = ("deletion", "insertion")
#: What deletion moves towards and insertion starts from (:func:`make_substrate`).
SUBSTRATES = ("black", "white", "mean", "blur")
DEFAULT_SUBSTRATE = {"deletion": "mean", "insertion": "blur"}

#: The blur substrate of docs/metrics.md#substrates: a Gaussian of kernel 11, sigma 5, reflect padding (torchvision).
#: Not RISE's own blur: RISE's code smooths an 11x11 impulse with scipy's gaussian_filter (tails
#: folded back by reflection) and zero-pads the image, so its substrate differs near the borders.
BLUR_KERNEL_SIZE = 11
BLUR_SIGMA = 5.0

TIE_BREAK_RULE = (
    "pixels ranked by attribution, highest first; ties broken by one fixed pseudo-random "
    "permutation of the H*W positions drawn from the seed (numpy default_rng(seed)), "
    "the same for every image and method (for the curves; the top-10 % IoU uses no tie-break: "
    "pixels tied at its cut share the places left)"
)

NOTEBOOK_DELETION_NOTE = (
    "The original notebook reported the deletion AUC of (1 - probability), so its "
    "'Deletion AUC' equals 1 minus the deletion AUC reported here "
    "(its 0.458 is 0.542 here; lower is better here)."
)


def notebook_deletion_auc(auc):
    """The notebook's "Deletion AUC" for a deletion AUC computed here: ``1 - auc``.

    The notebook integrated (1 - p) instead of p, which inverts the direction
    (higher was better there).  See :data:`NOTEBOOK_DELETION_NOTE`.

    >>> round(notebook_deletion_auc(0.542), 3)
    0.458
    """
    return 1.0 - auc


def make_substrate(
    images: torch.Tensor, kind: str, *, dataset_mean: tuple[float, float, float] | None = None
) -> torch.Tensor:
    """The image that deletion moves towards and insertion starts from.

    Parameters
    ----------
    images : (N, 3, H, W) float in [0, 1].
    kind : one of :data:`SUBSTRATES`:
        ``"black"`` (0), ``"white"`` (1, an empty slide in H&E), ``"mean"`` (the
        data set's mean colour per channel; requires ``dataset_mean``), ``"blur"``
        (each image blurred with a Gaussian, kernel 11, sigma 5, as docs/metrics.md#substrates states;
        borders use reflect padding, torchvision's ``gaussian_blur``; not RISE's own
        kernel, see :data:`BLUR_KERNEL_SIZE`).
    dataset_mean : per-channel mean colour in [0, 1] (default None; required for ``"mean"``).

    Returns
    -------
    (N, 3, H, W) float tensor on the images' device and dtype.
    """
    images = torch.as_tensor(images)
    if kind == "black":
        return torch.zeros_like(images)
    if kind == "white":
        return torch.ones_like(images)
    if kind == "mean":
        if dataset_mean is None:
            raise ConfigError(
                "substrate 'mean' needs dataset_mean (the data set's per-channel mean colour); "
                "pass dataset_mean=(r, g, b) or choose another substrate"
            )
        mean = torch.as_tensor(dataset_mean, dtype=images.dtype, device=images.device)
        if mean.shape != (images.shape[1],):
            raise ConfigError(
                f"dataset_mean {tuple(mean.tolist())} must have one value per channel "
                f"({images.shape[1]}); pass (r, g, b)"
            )
        return mean.view(1, -1, 1, 1).expand_as(images).clone()
    if kind == "blur":
        if min(images.shape[-2:]) <= BLUR_KERNEL_SIZE // 2:
            raise DataError(
                f"images of size {tuple(images.shape[-2:])} are too small for the blur substrate "
                f"(reflect padding needs a side > {BLUR_KERNEL_SIZE // 2}); use another substrate"
            )
        return gaussian_blur(images, [BLUR_KERNEL_SIZE, BLUR_KERNEL_SIZE], [BLUR_SIGMA, BLUR_SIGMA])
    raise unknown_name_error("substrate", str(kind), list(SUBSTRATES))


def tie_break_permutation(n_positions: int, *, seed: int) -> np.ndarray:
    """(n_positions,) int64: the fixed permutation that breaks ties, ``default_rng(seed).permutation``."""
    return np.random.default_rng(seed).permutation(n_positions).astype(np.int64)


def pixel_order(maps: np.ndarray, *, seed: int) -> np.ndarray:
    """Pixel positions of each map, highest attribution first, ties broken by a seeded permutation.

    The positions are first reordered by one permutation ``perm`` of the H*W
    positions drawn from ``seed`` (:func:`tie_break_permutation`; the same for
    every image and every method), then stably sorted by decreasing value.
    Tied positions therefore keep the order in which they appear in ``perm``,
    never their raw row-major order (which favours the top-left corner).  NaN
    values rank last.

    Parameters
    ----------
    maps : (N, H, W) float attribution maps.
    seed : seed of the tie-break permutation.

    Returns
    -------
    (N, H*W) int64 flat positions (``row * W + col``), most important first.
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise DataError(f"attribution maps have shape {maps.shape}; expected (N, H, W)")
    n, height, width = maps.shape
    permutation = tie_break_permutation(height * width, seed=seed)
    values = maps.reshape(n, height * width)[:, permutation]
    by_value = np.argsort(-values, axis=1, kind="stable")
    return permutation[by_value]


def pixel_ranks(maps: np.ndarray, *, seed: int) -> np.ndarray:
    """(N, H*W) int64 rank of each flat position (0 = most important); inverse of :func:`pixel_order`."""
    order = pixel_order(maps, seed=seed)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(order.shape[1], dtype=np.int64)[None, :], axis=1)
    return ranks


def changed_pixel_counts(n_positions: int, steps: int) -> np.ndarray:
    """(steps + 1,) int64: positions changed after step k, ``round(k * n_positions / steps)``.

    Rounded half up in exact integer arithmetic, so no floating-point error can
    shift a count (for 96x96 and 100 steps no count is a tie).
    """
    k = np.arange(steps + 1, dtype=np.int64)
    return (2 * k * n_positions + steps) // (2 * steps)


def perturbed_images(
    images: torch.Tensor,
    substrates: torch.Tensor,
    ranks: torch.Tensor,
    counts: torch.Tensor,
    *,
    mode: str,
) -> torch.Tensor:
    """Curve inputs for a batch of (image, step) pairs.

    Parameters
    ----------
    images, substrates : (B, 3, H, W) the clean image and the substrate of each pair.
    ranks : (B, H*W) int64 rank of each position for the pair's image.
    counts : (B,) int64 number of positions changed at the pair's step.
    mode : "deletion" (top-ranked positions take the substrate) or
        "insertion" (top-ranked positions take the image, the rest the substrate).

    Returns
    -------
    (B, 3, H, W) perturbed images.
    """
    changed = (ranks < counts[:, None]).view(len(images), 1, *images.shape[-2:])
    if mode == "deletion":
        return torch.where(changed, substrates, images)
    return torch.where(changed, images, substrates)


def target_probabilities(
    model: torch.nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    *,
    batch_size: int = 256,
    precision: str = "fp32",
) -> np.ndarray:
    """(N,) float64 softmax probability of ``targets`` (N,) for ``images`` (N, 3, H, W).

    Each image is its own forward pass: convolution kernels are chosen by batch shape
    (oneDNN takes another path below 16 rows, cuDNN picks algorithms per shape), so a
    probability computed in a batch with other patches can differ in its last bits from
    the same probability computed with different neighbours.  One image per pass makes a
    patch's curve endpoints independent of which other patches are scored with it: a
    report built in shards, or half from the cache, equals one built in one go.
    ``batch_size`` is accepted for the callers' symmetry and bounds nothing here.
    """
    del batch_size
    targets = torch.as_tensor(targets, dtype=torch.long).cpu()
    probabilities = [predict_proba(model, images[i : i + 1], batch_size=1, precision=precision)
                     for i in range(len(images))]
    if not probabilities:
        return np.empty(0, dtype=np.float64)
    return torch.cat(probabilities).gather(1, targets[:, None])[:, 0].double().numpy()


def _check_inputs(images, maps, targets, mode: str, substrate: str | None, steps: int):
    if mode not in MODES:
        raise unknown_name_error("curve mode", str(mode), list(MODES))
    substrate = DEFAULT_SUBSTRATE[mode] if substrate is None else substrate
    if substrate not in SUBSTRATES:
        raise unknown_name_error("substrate", str(substrate), list(SUBSTRATES))
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigError(f"steps={steps!r} must be a positive integer (default 100)")
    images = torch.as_tensor(images, dtype=torch.float32)
    maps = np.asarray(maps)
    targets = torch.as_tensor(targets, dtype=torch.long).cpu()
    if images.ndim != 4 or images.shape[1] != 3:
        raise DataError(f"images have shape {tuple(images.shape)}; expected (N, 3, H, W)")
    if maps.shape != (images.shape[0], *images.shape[2:]):
        raise DataError(
            f"attribution maps have shape {maps.shape}; expected (N, H, W) = "
            f"{(images.shape[0], *images.shape[2:])} to match the images"
        )
    if targets.shape != (images.shape[0],):
        raise DataError(f"targets have shape {tuple(targets.shape)}; expected ({images.shape[0]},)")
    return images, maps, targets, substrate


def _interior_batches(
    images: torch.Tensor,
    substrates: torch.Tensor,
    ranks: torch.Tensor,
    counts: torch.Tensor,
    *,
    mode: str,
    batch_size: int,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(image_index (B,), perturbed (B, 3, H, W))`` for steps 1..steps-1, B <= batch_size.

    A batch holds the steps of one image only, in chunks of at most ``batch_size``:
    its shape, and so the kernels that compute it, depend on that image alone, never
    on which images are scored with it (see :func:`target_probabilities`).  Batches
    are built only when requested, so memory is bounded by ``batch_size`` whatever
    the number of images.
    """
    interior = len(counts) - 2
    for image in range(len(images)):
        for start in range(0, interior, batch_size):
            step_index = torch.arange(start + 1, min(start + batch_size, interior) + 1, device=images.device)
            image_index = torch.full_like(step_index, image)
            batch = perturbed_images(
                images[image_index], substrates[image_index], ranks[image_index], counts[step_index], mode=mode
            )
            yield image_index, batch


def deletion_insertion_curves(
    model: torch.nn.Module,
    images: torch.Tensor,
    maps: np.ndarray,
    targets: torch.Tensor,
    *,
    mode: str,
    substrate: str | None = None,
    steps: int = 100,
    seed: int = 0,
    dataset_mean: tuple[float, float, float] | None = None,
    batch_size: int = 256,
    precision: str = "fp32",
    clean_probs: np.ndarray | None = None,
    substrate_probs: np.ndarray | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Deletion or insertion curves, batched across images and steps (Petsiuk et al., 2018).

    Parameters
    ----------
    model : classifier taking (B, 3, H, W) float in [0, 1], returning (B, C) logits.
    images : (N, 3, H, W) float in [0, 1].
    maps : (N, H, W) attribution maps; higher means more important.
    targets : (N,) long, the tracked class of each image (docs/metrics.md#target-class: top-1 on the clean image).
    mode : "deletion" or "insertion".
    substrate : one of :data:`SUBSTRATES` (default None: the default of docs/metrics.md#substrates for the mode,
        "mean" for deletion and "blur" for insertion; :data:`DEFAULT_SUBSTRATE`).
    steps : number of steps (default 100); the curve has steps + 1 points.
    seed : seed of the tie-break permutation (default 0; :func:`pixel_order`).
    dataset_mean : per-channel mean colour, required for the "mean" substrate (default None).
    batch_size : perturbed images per forward pass (default 256); bounds peak memory,
        whatever N is.  A batch never mixes images, so each image's curve is the same
        whichever images it is scored with (a sharded build equals an unsharded one).
    precision : "fp32" (default) or "bf16" autocast for the forward passes.
    clean_probs, substrate_probs : (N,) target-class probabilities of the clean images and
        of the substrate images (default None: computed here).  Both are curve endpoints
        (deletion runs clean -> substrate, insertion substrate -> clean) and do not depend
        on the map, so a caller scoring several methods on the same images, targets and
        substrate computes them once with :func:`target_probabilities` and passes them in.
    progress : show a tqdm progress bar (default False).

    Returns
    -------
    (N, steps + 1) float64 softmax probability of the target class after each step.
    """
    images, maps, targets, substrate = _check_inputs(images, maps, targets, mode, substrate, steps)
    n_images, _, height, width = images.shape
    substrates = make_substrate(images, substrate, dataset_mean=dataset_mean)
    if clean_probs is None:
        clean_probs = target_probabilities(model, images, targets, batch_size=batch_size, precision=precision)
    if substrate_probs is None:
        substrate_probs = target_probabilities(
            model, substrates, targets, batch_size=batch_size, precision=precision
        )
    for name, shared in (("clean_probs", clean_probs), ("substrate_probs", substrate_probs)):
        if np.shape(shared) != (n_images,):
            raise DataError(f"{name} has shape {np.shape(shared)}; expected ({n_images},), one probability per image")
    start_probs, end_probs = (clean_probs, substrate_probs) if mode == "deletion" else (substrate_probs, clean_probs)
    curves = np.empty((n_images, steps + 1), dtype=np.float64)
    curves[:, 0] = np.asarray(start_probs, dtype=np.float64)
    curves[:, steps] = np.asarray(end_probs, dtype=np.float64)

    ranks = torch.from_numpy(pixel_ranks(maps, seed=seed)).to(images.device)
    counts = torch.from_numpy(changed_pixel_counts(height * width, steps)).to(images.device)
    interior = steps - 1
    if interior > 0 and n_images > 0:
        batches = _interior_batches(images, substrates, ranks, counts, mode=mode, batch_size=batch_size)
        n_batches = n_images * -(-interior // batch_size)
        values = []
        for image_index, batch in tqdm(batches, total=n_batches, desc=mode, disable=not progress):
            probabilities = predict_proba(model, batch, batch_size=batch_size, precision=precision)
            values.append(probabilities.gather(1, targets[image_index.cpu()][:, None])[:, 0].double())
        curves[:, 1:steps] = torch.cat(values).view(n_images, interior).numpy()
    logger.debug("%s curves: %d images, %d steps, substrate %s", mode, n_images, steps, substrate)
    return curves


def curves_one_at_a_time(
    model: torch.nn.Module,
    images: torch.Tensor,
    maps: np.ndarray,
    targets: torch.Tensor,
    *,
    mode: str,
    substrate: str | None = None,
    steps: int = 100,
    seed: int = 0,
    dataset_mean: tuple[float, float, float] | None = None,
    precision: str = "fp32",
) -> np.ndarray:
    """Reference implementation: one image, one step, one forward pass at a time.

    Same parameters and result as :func:`deletion_insertion_curves` (without
    batching or shared endpoints); kept deliberately plain so it is obviously
    correct.  Used by the tests and the benchmark.

    Returns
    -------
    (N, steps + 1) float64 softmax probability of the target class after each step.
    """
    images, maps, targets, substrate = _check_inputs(images, maps, targets, mode, substrate, steps)
    n_images, channels, height, width = images.shape
    curves = np.empty((n_images, steps + 1), dtype=np.float64)
    for i in range(n_images):
        image = images[i : i + 1]
        background = make_substrate(image, substrate, dataset_mean=dataset_mean)
        order = pixel_order(maps[i : i + 1], seed=seed)[0]
        for k in range(steps + 1):
            count = math.floor(Fraction(k * height * width, steps) + Fraction(1, 2))
            start, source = (image, background) if mode == "deletion" else (background, image)
            current = start.clone().view(1, channels, height * width)
            chosen = torch.from_numpy(order[:count])
            current[:, :, chosen] = source.reshape(1, channels, height * width)[:, :, chosen]
            probabilities = predict_proba(model, current.view(1, channels, height, width), batch_size=1, precision=precision)
            curves[i, k] = float(probabilities[0, int(targets[i])])
    return curves


def least_relevant_first(maps: np.ndarray) -> np.ndarray:
    """(N, H, W) maps whose deletion curve removes the least relevant pixels first (LIF, or LeRF).

    The negated map: ranked highest first, it orders the positions from the lowest attribution up,
    with ties broken by the same permutation as the most-relevant-first curve (:func:`pixel_order`)
    and non-finite values still last.
    """
    return -np.asarray(maps, dtype=np.float64)


def symmetric_relevance_gain(least_first: np.ndarray, most_first: np.ndarray) -> np.ndarray:
    """(N,) symmetric relevance gain SRG = AUC(LIF) - AUC(MIF) of deletion curves (N, steps + 1).

    Blücher, Vielhaben and Strodthoff, "Decoupling Pixel Flipping and Occlusion Strategy for
    Consistent XAI Benchmarks", TMLR 2024.  A faithful map keeps the score high while its least
    relevant pixels go and drops it fast when its most relevant go, so higher is better; a map
    that ignores the model scores about 0.  Both curves replace pixels with the same substrate and
    share their two ends, so an artefact of the substrate that lowers the score whatever is removed
    enters both areas and cancels in their difference, which is why SRG ranks methods consistently
    across substrates where either curve alone does not.
    """
    return curve_auc(least_first) - curve_auc(most_first)


def curve_auc(curves: np.ndarray) -> np.ndarray:
    """Trapezoid area under each curve over x in [0, 1].

    For a curve of S + 1 points p_0..p_S: ``(sum(p) - p_0 / 2 - p_S / 2) / S``.

    Parameters
    ----------
    curves : (N, S + 1) probabilities, S >= 1.

    Returns
    -------
    (N,) float64 areas; lower is better for deletion, higher for insertion.
    """
    curves = np.asarray(curves, dtype=np.float64)
    if curves.ndim != 2 or curves.shape[1] < 2:
        raise DataError(f"curves have shape {curves.shape}; expected (N, steps + 1) with steps >= 1")
    steps = curves.shape[1] - 1
    return (curves.sum(axis=1) - curves[:, 0] / 2 - curves[:, -1] / 2) / steps
