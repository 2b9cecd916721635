"""Least-relevant-first deletion, the symmetric relevance gain and the substrates' drift, on models whose answer is known."""

import numpy as np
import pytest
import torch
from torch import nn

from reportgen.metrics.faithfulness import deletion_insertion_curves, least_relevant_first, symmetric_relevance_gain
from reportgen.metrics.references import random_maps
from reportgen.metrics.substrate_scope import SCOPE_FRACTIONS, substrate_drift

SIZE = 12


class LeftHalfBrightness(nn.Module):
    """Logit of class 1 = 40 * (mean of the left half's red channel - 0.5): only the left half matters."""

    def forward(self, images):
        score = 40 * (images[:, 0, :, : SIZE // 2].mean(dim=(1, 2)) - 0.5)
        return torch.stack([-score, score], dim=1)


def _setup(n=4, seed=0):
    rng = np.random.default_rng(seed)
    images = torch.from_numpy(rng.uniform(0.5, 0.8, (n, 3, SIZE, SIZE)).astype(np.float32))
    targets = torch.ones(n, dtype=torch.long)
    truth = np.zeros((n, SIZE, SIZE))
    truth[:, :, : SIZE // 2] = 1.0 + rng.uniform(0, 1e-3, (n, SIZE, SIZE // 2))  # no ties
    return images, targets, truth


def _srg(model, images, targets, maps, **kwargs):
    most = deletion_insertion_curves(model, images, maps, targets, mode="deletion", substrate="black", steps=12, **kwargs)
    least = deletion_insertion_curves(model, images, least_relevant_first(maps), targets, mode="deletion",
                                      substrate="black", steps=12, **kwargs)
    return symmetric_relevance_gain(least, most), least, most


def test_the_true_map_has_a_large_srg_and_a_random_map_about_none():
    images, targets, truth = _setup()
    model = LeftHalfBrightness().eval()
    true_srg, least, most = _srg(model, images, targets, truth)
    random_srg, *_ = _srg(model, images, targets, random_maps(len(images), SIZE, SIZE, seed=1))
    assert np.all(true_srg > 0.3)
    assert np.all(np.abs(random_srg) < 0.15)
    # Least relevant first removes the right half first, which the model ignores: the score stays put.
    assert np.allclose(least[:, : 6], least[:, :1], atol=1e-6)


def test_srg_changes_sign_with_the_map():
    images, targets, truth = _setup(seed=2)
    model = LeftHalfBrightness().eval()
    srg, *_ = _srg(model, images, targets, truth)
    flipped, *_ = _srg(model, images, targets, -truth)
    assert flipped == pytest.approx(-srg, abs=1e-12)


def test_drift_of_the_deletion_substrate_is_the_random_maps_deletion_curve_at_its_fractions():
    images, targets, _ = _setup(n=3, seed=5)
    model = LeftHalfBrightness().eval()
    maps = random_maps(len(images), SIZE, SIZE, seed=4)
    drift, flipped = substrate_drift(model, images, maps, targets, substrate="white", seed=0)
    curves = deletion_insertion_curves(model, images, maps, targets, mode="deletion", substrate="white", steps=10,
                                       seed=0)
    assert drift.shape == (3, len(SCOPE_FRACTIONS)) and flipped.dtype == bool
    assert drift == pytest.approx(np.abs(curves[:, 1:4] - curves[:, :1]), abs=1e-6)
    # White pushes the red channel up, so the model's tumour score only grows: no top-1 change from class 1.
    assert not flipped.any()
    black, black_flipped = substrate_drift(model, images, maps, targets, substrate="black", seed=0)
    assert black.mean() > drift.mean()
    assert black_flipped[:, -1].any()
