"""Deletion/Insertion curves on toy models whose answers are known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from reportgen.errors import ConfigError, DataError
from reportgen.metrics.faithfulness import (
    NOTEBOOK_DELETION_NOTE,
    SUBSTRATES,
    changed_pixel_counts,
    curve_auc,
    curves_one_at_a_time,
    deletion_insertion_curves,
    make_substrate,
    notebook_deletion_auc,
    pixel_order,
    pixel_ranks,
    target_probabilities,
    tie_break_permutation,
)

SIDE = 16
DATASET_MEAN = (0.5, 0.5, 0.5)


class TemplateModel(nn.Module):
    """Class-1 logit rewards matching a template, pixel by pixel, with known weights.

    ``logit_1 = 40 * sum_p w_p (0.125 - mean_c |x_cp - T_cp|) / sum_p w_p``, ``logit_0 = 0``.
    The template is a 0.25/0.75 checkerboard, so every substrate (black, white,
    mean 0.5, blur ~0.5) sits at least 0.25 away from it at every position:
    each deleted position lowers the score by an amount proportional to w_p,
    each inserted one raises it, and the ideal order is the order of w.
    """

    def __init__(self, weights: torch.Tensor):
        super().__init__()
        rows, cols = torch.meshgrid(torch.arange(SIDE), torch.arange(SIDE), indexing="ij")
        checker = ((rows + cols) % 2).float() * 0.5 + 0.25
        self.register_buffer("template", checker.expand(3, SIDE, SIDE).clone())
        self.register_buffer("weights", weights)

    def forward(self, images):
        mismatch = (images - self.template).abs().mean(dim=1)
        score = ((0.125 - mismatch) * self.weights).sum(dim=(1, 2)) / self.weights.sum()
        return torch.stack([torch.zeros_like(score), 40.0 * score], dim=1)


class CountingModel(nn.Module):
    """p(class 1) = c / (1 + c) where c = number of black positions (all channels 0), plus 1e-3."""

    def forward(self, images):
        black = (images.abs().sum(dim=1) == 0).flatten(1).sum(dim=1).float()
        return torch.stack([torch.zeros_like(black), torch.log(black + 1e-3)], dim=1)


def _template_setup():
    generator = np.random.default_rng(1)
    weights = (generator.permutation(SIDE * SIDE) + 1.0) ** 3
    weights = torch.tensor(weights.reshape(SIDE, SIDE), dtype=torch.float32)
    model = TemplateModel(weights).eval()
    images = model.template.unsqueeze(0).repeat(2, 1, 1, 1)
    return model, images, weights


@pytest.mark.parametrize("substrate", SUBSTRATES)
def test_oracle_beats_random_beats_anti_oracle(substrate):
    model, images, weights = _template_setup()
    targets = torch.ones(len(images), dtype=torch.long)
    oracle = weights.numpy()[None].repeat(len(images), axis=0)
    random = np.random.default_rng(7).random(oracle.shape)
    aucs = {}
    for mode in ("deletion", "insertion"):
        for name, maps in {"oracle": oracle, "random": random, "anti": -oracle}.items():
            curves = deletion_insertion_curves(
                model, images, maps, targets, mode=mode, substrate=substrate, steps=32,
                seed=0, dataset_mean=DATASET_MEAN, batch_size=64,
            )
            aucs[mode, name] = curve_auc(curves)
    assert np.all(aucs["deletion", "oracle"] < aucs["deletion", "random"])
    assert np.all(aucs["deletion", "random"] < aucs["deletion", "anti"])
    assert np.all(aucs["insertion", "oracle"] > aucs["insertion", "random"])
    assert np.all(aucs["insertion", "random"] > aucs["insertion", "anti"])


@pytest.mark.parametrize("mode,substrate", [("deletion", "mean"), ("insertion", "blur"), ("deletion", "white")])
def test_batched_equals_one_at_a_time(mode, substrate):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 3)
    ).eval()
    images = torch.rand(4, 3, 10, 10, generator=torch.Generator().manual_seed(3))
    # Quantised maps are full of ties, as Grad-CAM plateaus and LIME superpixels are.
    maps = np.round(np.random.default_rng(2).random((4, 10, 10)) * 3)
    targets = torch.tensor([0, 1, 2, 1])
    kwargs = dict(mode=mode, substrate=substrate, steps=7, seed=5, dataset_mean=(0.2, 0.3, 0.4))
    batched = deletion_insertion_curves(model, images, maps, targets, batch_size=3, **kwargs)
    reference = curves_one_at_a_time(model, images, maps, targets, **kwargs)
    assert batched.shape == (4, 8)
    np.testing.assert_allclose(batched, reference, atol=1e-5, rtol=0)


def test_shared_endpoints_are_used_and_match():
    model, images, weights = _template_setup()
    targets = torch.ones(len(images), dtype=torch.long)
    maps = weights.numpy()[None].repeat(len(images), axis=0)
    substrate = make_substrate(images, "black")
    clean = target_probabilities(model, images, targets)
    background = target_probabilities(model, substrate, targets)
    shared = deletion_insertion_curves(
        model, images, maps, targets, mode="insertion", substrate="black", steps=10,
        clean_probs=clean, substrate_probs=background,
    )
    computed = deletion_insertion_curves(model, images, maps, targets, mode="insertion", substrate="black", steps=10)
    np.testing.assert_allclose(shared, computed, atol=1e-6)
    np.testing.assert_allclose(shared[:, 0], background)
    np.testing.assert_allclose(shared[:, -1], clean)
    with pytest.raises(DataError, match="clean_probs"):
        deletion_insertion_curves(
            model, images, maps, targets, mode="insertion", substrate="black", clean_probs=clean[:1]
        )


def test_default_substrates_follow_the_specification():
    model, images, weights = _template_setup()
    targets = torch.ones(len(images), dtype=torch.long)
    maps = weights.numpy()[None].repeat(len(images), axis=0)
    for mode, substrate in (("deletion", "mean"), ("insertion", "blur")):
        default = deletion_insertion_curves(model, images, maps, targets, mode=mode, steps=4, dataset_mean=DATASET_MEAN)
        explicit = deletion_insertion_curves(
            model, images, maps, targets, mode=mode, substrate=substrate, steps=4, dataset_mean=DATASET_MEAN
        )
        np.testing.assert_array_equal(default, explicit)


@pytest.mark.parametrize("mode", ["deletion", "insertion"])
@pytest.mark.parametrize("steps", [1, 7, 8, 100])
def test_exact_number_of_changed_pixels(mode, steps):
    side = 10
    images = torch.ones(3, 3, side, side)
    maps = np.random.default_rng(0).random((3, side, side))
    curves = deletion_insertion_curves(
        CountingModel(), images, maps, torch.ones(3, dtype=torch.long), mode=mode, substrate="black", steps=steps,
        batch_size=5,
    )
    black_positions = np.round(curves / (1 - curves) - 1e-3)
    changed = black_positions if mode == "deletion" else side * side - black_positions
    expected = [math.floor(k * side * side / steps + 0.5) for k in range(steps + 1)]
    np.testing.assert_array_equal(changed, np.array([expected] * 3))
    np.testing.assert_array_equal(changed_pixel_counts(side * side, steps), expected)


def test_constant_map_follows_the_seeded_permutation():
    maps = np.zeros((2, 4, 5))
    order = pixel_order(maps, seed=11)
    permutation = tie_break_permutation(20, seed=11)
    np.testing.assert_array_equal(order[0], permutation)
    np.testing.assert_array_equal(order[1], permutation)
    assert not np.array_equal(order[0], np.arange(20))
    np.testing.assert_array_equal(pixel_order(maps, seed=11), order)
    assert not np.array_equal(pixel_order(maps, seed=12)[0], order[0])


def test_plateaus_ranked_by_value_then_permutation():
    maps = np.zeros((1, 3, 3))
    maps[0, 0, :] = 2.0
    maps[0, 2, :] = 1.0
    order = pixel_order(maps, seed=3)[0]
    assert set(order[:3]) == {0, 1, 2}
    assert set(order[3:6]) == {6, 7, 8}
    assert set(order[6:]) == {3, 4, 5}
    position_in_permutation = np.argsort(tie_break_permutation(9, seed=3))
    for plateau in (order[:3], order[3:6], order[6:]):
        assert np.all(np.diff(position_in_permutation[plateau]) > 0)
    ranks = pixel_ranks(maps, seed=3)[0]
    np.testing.assert_array_equal(ranks[order], np.arange(9))


def test_substrates():
    images = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    assert torch.all(make_substrate(images, "black") == 0)
    assert torch.all(make_substrate(images, "white") == 1)
    mean = make_substrate(images, "mean", dataset_mean=(0.1, 0.2, 0.3))
    assert torch.allclose(mean[1, :, 5, 5], torch.tensor([0.1, 0.2, 0.3]))
    blurred = make_substrate(images, "blur")
    assert blurred.std() < images.std()
    flat = torch.full((1, 3, 12, 12), 0.4)
    assert torch.allclose(make_substrate(flat, "blur"), flat)
    with pytest.raises(ConfigError, match="dataset_mean"):
        make_substrate(images, "mean")
    with pytest.raises(ConfigError, match="black, blur, mean, white"):
        make_substrate(images, "grey")


def test_bad_shapes_raise_data_error():
    images = torch.rand(2, 3, 8, 8)
    with pytest.raises(DataError, match="expected"):
        deletion_insertion_curves(
            CountingModel(), images, np.zeros((2, 7, 8)), torch.zeros(2, dtype=torch.long),
            mode="deletion", substrate="black",
        )
    with pytest.raises(ConfigError, match="deletion, insertion"):
        deletion_insertion_curves(
            CountingModel(), images, np.zeros((2, 8, 8)), torch.zeros(2, dtype=torch.long),
            mode="erase", substrate="black",
        )


def test_auc_formula_on_hand_made_curves():
    curves = np.array([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.5, 1.0]])
    np.testing.assert_allclose(curve_auc(curves), [1.0, 0.25, 0.5])
    np.testing.assert_allclose(curve_auc(np.array([[0.2, 0.6, 0.4, 0.8, 0.0]])), [(2.0 - 0.1 - 0.0) / 4])


def test_notebook_inversion():
    assert notebook_deletion_auc(0.542) == pytest.approx(0.458)
    curves = np.array([[0.9, 0.5, 0.3, 0.1]])
    assert notebook_deletion_auc(curve_auc(curves))[0] == pytest.approx(curve_auc(1 - curves)[0])
    assert "0.458" in NOTEBOOK_DELETION_NOTE and "0.542" in NOTEBOOK_DELETION_NOTE


@pytest.mark.parametrize("mode", ["deletion", "insertion"])
def test_a_patch_curve_does_not_depend_on_the_patches_scored_with_it(mode):
    # A ResNet-18 takes other convolution paths for small batches (below 16 rows on oneDNN), so a curve computed
    # in batches mixing patches differed in its last bits from the same curve computed in a shard of the report.
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=2).eval()
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(5, 3, 32, 32, generator=generator)
    maps = torch.rand(5, 32, 32, generator=generator).numpy()
    targets = torch.tensor([0, 1, 1, 0, 1])
    options = dict(mode=mode, substrate="mean", steps=12, dataset_mean=DATASET_MEAN, batch_size=7)
    together = deletion_insertion_curves(model, images, maps, targets, **options)
    for subset in ([3], [1, 4], [0, 2, 3]):
        rows = torch.as_tensor(subset)
        apart = deletion_insertion_curves(model, images[rows], maps[subset], targets[rows], **options)
        np.testing.assert_array_equal(apart, together[subset])  # bit for bit, not approximately
