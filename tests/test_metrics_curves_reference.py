"""Deletion and Insertion curves against a reference written from docs/metrics.md alone.

The equality test in ``test_metrics_faithfulness.py`` compares the batched curves
with ``curves_one_at_a_time``, but both rank pixels with ``pixel_order`` and build
substrates with ``make_substrate``, so a mistake there would pass unseen.  The
reference below shares none of that code: it ranks pixels, builds every substrate
(the blur by a hand-written separable Gaussian), counts changed pixels and
integrates the AUC on its own, in float64 where it can, and follows
docs/metrics.md#deletion-and-insertion-curves:

- rank the H*W positions by the map, highest first; ties broken by the order of
  ``np.random.default_rng(seed).permutation(H*W)`` (a tied position that comes
  earlier in the permutation ranks first); NaN ranks last (the production
  docstring's rule, which docs/metrics.md states too);
- after step k, round(k*H*W/steps) positions have been changed;
- black 0, white 1, mean = the data set's colour, blur = Gaussian kernel 11,
  sigma 5, reflect padding;
- the score is the softmax probability of the tracked class; AUC is the
  trapezoid over x in [0, 1].
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.transforms.functional import gaussian_blur

from reportgen.cache import ArrayCache
from reportgen.config import resolve_config
from reportgen.metrics.faithfulness import curves_one_at_a_time, deletion_insertion_curves, least_relevant_first
from reportgen.pipeline.score import CurveScorer, CurveSet

KERNEL, SIGMA = 11, 5.0
DATASET_MEAN = (0.21, 0.47, 0.68)
SUBSTRATE_KINDS = ("black", "white", "mean", "blur")


# The reference ------------------------------------------------------------------------------


def reference_order(values: np.ndarray, seed: int) -> np.ndarray:
    """(H*W,) flat positions of one (H, W) map, most important first, by the tie rule of docs/metrics.md#tie-break-rule."""
    flat = values.ravel().astype(np.float64)
    permutation = np.random.default_rng(seed).permutation(flat.size)
    place_in_permutation = np.empty(flat.size, dtype=np.int64)
    place_in_permutation[permutation] = np.arange(flat.size)
    missing = np.isnan(flat)
    # np.lexsort sorts by the last key first: NaN last, then value descending, then permutation place.
    return np.lexsort((place_in_permutation, -np.where(missing, 0.0, flat), missing))


def gaussian_kernel_1d(size: int = KERNEL, sigma: float = SIGMA) -> np.ndarray:
    """(size,) normalised taps exp(-x^2 / (2 sigma^2)) at x = -(size-1)/2 .. (size-1)/2."""
    x = np.arange(size) - (size - 1) / 2
    taps = np.exp(-(x**2) / (2 * sigma**2))
    return taps / taps.sum()


def reference_blur(image: np.ndarray) -> np.ndarray:
    """(3, H, W) image blurred row-wise then column-wise, borders mirrored without repeating the edge."""
    taps, half = gaussian_kernel_1d(), KERNEL // 2
    out = image.astype(np.float64)
    for axis in (1, 2):
        padded = np.pad(out, [(0, 0)] + [(half, half) if a == axis else (0, 0) for a in (1, 2)], mode="reflect")
        length = out.shape[axis]
        out = sum(taps[t] * np.take(padded, range(t, t + length), axis=axis) for t in range(KERNEL))
    return out


def reference_substrate(image: np.ndarray, kind: str) -> np.ndarray:
    """(3, H, W) float64 substrate of one (3, H, W) image."""
    if kind == "black":
        return np.zeros_like(image, dtype=np.float64)
    if kind == "white":
        return np.ones_like(image, dtype=np.float64)
    if kind == "mean":
        return np.broadcast_to(np.asarray(DATASET_MEAN, dtype=np.float64)[:, None, None], image.shape).copy()
    return reference_blur(image)


def reference_counts(n_positions: int, steps: int) -> list[int]:
    """Positions changed after each step: round(k * n / steps), k = 0..steps (sizes here have no .5 cases)."""
    counts = []
    for k in range(steps + 1):
        exact = k * n_positions / steps
        assert abs(exact - int(exact) - 0.5) > 1e-9, "choose a size without half-way counts"
        counts.append(int(round(exact)))
    return counts


def reference_curve(model, image: np.ndarray, values: np.ndarray, target: int, *, mode: str, substrate: str,
                    steps: int, seed: int) -> np.ndarray:
    """(steps + 1,) tracked-class probabilities of one image, one perturbed copy per step."""
    channels, height, width = image.shape
    order = reference_order(values, seed)
    background = reference_substrate(image, substrate)
    points = []
    for count in reference_counts(height * width, steps):
        chosen = np.zeros(height * width, dtype=bool)
        chosen[order[:count]] = True
        chosen = chosen.reshape(height, width)
        if mode == "deletion":
            perturbed = np.where(chosen, background, image)
        else:
            perturbed = np.where(chosen, image, background)
        with torch.no_grad():
            logits = model(torch.tensor(perturbed[None], dtype=torch.float32)).double()
        points.append(float(torch.softmax(logits, dim=1)[0, target]))
    return np.asarray(points)


def reference_auc(curve: np.ndarray) -> float:
    """Trapezoid area of points at x = 0, 1/S, ..., 1: the mean of each segment's two ends, times its width."""
    width = 1.0 / (len(curve) - 1)
    return float(sum((curve[i] + curve[i + 1]) / 2 * width for i in range(len(curve) - 1)))


# Inputs -------------------------------------------------------------------------------------


def tiny_model() -> nn.Module:
    """A fixed small CNN with three classes, its weights drawn from seed 0."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=1), nn.Tanh(), nn.Conv2d(6, 4, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(3), nn.Flatten(), nn.Linear(36, 3),
        )
        # Larger logits, so the probabilities move visibly as pixels change.
        with torch.no_grad():
            model[-1].weight.mul_(8.0)
    return model.eval()


def tiny_images(n: int, height: int, width: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(4)
    return torch.rand(n, 3, height, width, generator=generator)


def tie_heavy_maps(n: int, height: int, width: int) -> np.ndarray:
    """Maps of every kind the report meets: continuous, few levels (many ties), constant, blocks, NaN."""
    rng = np.random.default_rng(9)
    maps = [rng.random((height, width)), np.round(rng.random((height, width)) * 2), np.full((height, width), 0.3)]
    blocks = np.kron(rng.choice([0.0, 0.5, 1.0], size=(2, 2)), np.ones((height // 2 + 1, width // 2 + 1)))
    maps.append(blocks[:height, :width])
    with_nan = np.round(rng.random((height, width)) * 3)
    with_nan[rng.random((height, width)) < 0.2] = np.nan
    maps.append(with_nan)
    return np.stack([maps[i % len(maps)] for i in range(n)])


def build_curves(model, images, maps, targets, *, mode, substrate, steps, seed, cache_dir) -> np.ndarray:
    """The curves as a build computes them: :class:`CurveScorer` with shared endpoints, batches of 4."""
    config = resolve_config(flag_values={"steps": steps, "seed": seed, "batch_size": 4})
    scorer = CurveScorer(model, images, targets, np.arange(len(images)), config=config, dataset_mean=DATASET_MEAN,
                         cache=ArrayCache(cache_dir, enabled=False), cache_context={}, progress=False)
    return scorer.curves("maps", maps, mode=mode, substrate=substrate, map_identity={"name": "maps"})


# Tests --------------------------------------------------------------------------------------


def test_hand_blur_matches_torchvision_gaussian_blur():
    image = tiny_images(1, 12, 14)
    expected = gaussian_blur(image, [KERNEL, KERNEL], [SIGMA, SIGMA])[0].double().numpy()
    np.testing.assert_allclose(reference_blur(image[0].numpy()), expected, atol=1e-6)


def test_reference_order_on_a_hand_made_map():
    # Values 2, 1, 1, 1 (NaN last): the three tied positions follow the permutation's order.
    values = np.array([[1.0, np.nan], [2.0, 1.0], [1.0, 0.0]])
    permutation = list(np.random.default_rng(3).permutation(6))
    tied_in_permutation_order = [p for p in permutation if p in (0, 3, 4)]
    assert list(reference_order(values, 3)) == [2, *tied_in_permutation_order, 5, 1]


@pytest.mark.parametrize("substrate", SUBSTRATE_KINDS)
@pytest.mark.parametrize("mode", ["deletion", "insertion"])
@pytest.mark.parametrize("height,width,steps,seed", [(12, 12, 10, 0), (10, 14, 6, 7)])
def test_production_curves_equal_the_independent_reference(mode, substrate, height, width, steps, seed, tmp_path):
    model, images = tiny_model(), tiny_images(5, height, width)
    maps = tie_heavy_maps(5, height, width)
    targets = torch.tensor([0, 1, 2, 1, 0])
    expected = np.stack([
        reference_curve(model, images[i].double().numpy(), maps[i], int(targets[i]), mode=mode, substrate=substrate,
                        steps=steps, seed=seed)
        for i in range(len(images))])
    # The reference must be a real test: probabilities move along every curve.
    assert (np.ptp(expected, axis=1) > 1e-3).all()
    kwargs = dict(mode=mode, substrate=substrate, steps=steps, seed=seed, dataset_mean=DATASET_MEAN)
    batched = deletion_insertion_curves(model, images, maps, targets, batch_size=4, **kwargs)
    plain = curves_one_at_a_time(model, images, maps, targets, **kwargs)
    built = build_curves(model, images, maps, targets, mode=mode, substrate=substrate, steps=steps, seed=seed,
                         cache_dir=tmp_path)
    for production in (batched, plain, built):
        np.testing.assert_allclose(production, expected, atol=1e-6, rtol=0)
    # The AUCs the report shows are CurveSet's.
    curve_set = CurveSet(deletion=built, insertion=built, least_first=built)
    np.testing.assert_allclose(getattr(curve_set, f"{mode}_auc"), [reference_auc(c) for c in expected], atol=1e-6)
    if mode == "deletion":
        # Least relevant first: the reference ranks the lowest values first by its own ordering of the negated map.
        least = np.stack([
            reference_curve(model, images[i].double().numpy(), -maps[i], int(targets[i]), mode=mode,
                            substrate=substrate, steps=steps, seed=seed)
            for i in range(len(images))])
        production = deletion_insertion_curves(model, images, least_relevant_first(maps), targets, batch_size=4,
                                               **kwargs)
        np.testing.assert_allclose(production, least, atol=1e-6, rtol=0)
        srg = CurveSet(deletion=built, insertion=built, least_first=production).srg
        np.testing.assert_allclose(srg, [reference_auc(a) - reference_auc(b) for a, b in zip(least, expected)],
                                   atol=1e-6)


def test_another_seed_changes_the_tied_order_in_both():
    model, images = tiny_model(), tiny_images(1, 12, 12)
    maps = np.full((1, 12, 12), 0.5)  # every position tied: the order is the permutation's alone
    targets = torch.tensor([1])
    curves = {seed: deletion_insertion_curves(model, images, maps, targets, mode="deletion", substrate="black",
                                              steps=10, seed=seed)[0] for seed in (0, 1)}
    for seed, curve in curves.items():
        expected = reference_curve(model, images[0].double().numpy(), maps[0], 1, mode="deletion",
                                   substrate="black", steps=10, seed=seed)
        np.testing.assert_allclose(curve, expected, atol=1e-6, rtol=0)
    assert np.abs(curves[0] - curves[1]).max() > 1e-4
