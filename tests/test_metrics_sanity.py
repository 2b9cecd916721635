"""Cascading randomisation flags a model-independent map and passes a gradient map."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from reportgen.errors import ConfigError
from reportgen.metrics.references import sobel_maps
from reportgen.metrics.sanity import (
    SIMILARITY_THRESHOLD,
    cascading_randomisation,
    decide,
    mean_interval,
    randomisation_stages,
)
from reportgen.model.network import build_model

SIDE = 12


class ToyNet(nn.Module):
    """A torchvision-like CNN: conv1 + bn1, one block, head."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.layer1 = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(8, 2)

    def forward(self, images):
        features = self.layer1(self.relu(self.bn1(self.conv1(images))))
        return self.fc(self.pool(features).flatten(1))


def _blob_images(n, generator):
    """Dim noise; class 1 has a bright 3x3 square at a random place."""
    images = torch.rand(n, 3, SIDE, SIDE, generator=generator) * 0.3
    labels = torch.arange(n) % 2
    corners = torch.randint(0, SIDE - 3, (n, 2), generator=generator)
    for i in range(n):
        if labels[i] == 1:
            row, col = corners[i].tolist()
            images[i, :, row : row + 3, col : col + 3] = 1.0
    return images, labels


@pytest.fixture(scope="module")
def trained_toy():
    generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = ToyNet()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    # Tiny layers train faster on one thread than with threads contending for shared cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(60):
            images, labels = _blob_images(32, generator)
            loss = nn.functional.cross_entropy(model(images), labels)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    images, labels = _blob_images(8, generator)
    assert (model(images).argmax(1) == labels).float().mean() >= 0.75
    return model, images, labels


def gradient_maps(model, images, targets):
    """|d logit_target / d input|, max over channels (Simonyan et al., 2014)."""
    images = images.clone().requires_grad_(True)
    logits = model(images)
    logits.gather(1, targets[:, None]).sum().backward()
    return images.grad.abs().amax(dim=1).numpy()


def edge_maps(model, images, targets):
    return sobel_maps(images)


def test_stages_of_the_product_model_and_a_toy():
    assert randomisation_stages(build_model()) == [
        ["backbone.fc"], ["backbone.layer4"], ["backbone.layer3"], ["backbone.layer2"], ["backbone.layer1"],
        ["backbone.conv1", "backbone.bn1"],
    ]
    assert randomisation_stages(ToyNet()) == [["fc"], ["layer1"], ["conv1", "bn1"]]


def test_model_independent_map_is_flagged(trained_toy):
    model, images, labels = trained_toy
    result = cascading_randomisation(model, edge_maps, images, labels, seed=0)
    assert not result.passed and result.outcome == "failed"
    np.testing.assert_allclose(result.similarity, 1.0)
    assert result.stages == ("fc", "layer1", "conv1+bn1")


def test_gradient_map_passes_and_model_is_untouched(trained_toy):
    model, images, labels = trained_toy
    before = {name: value.clone() for name, value in model.state_dict().items()}
    rng_state = torch.get_rng_state()
    result = cascading_randomisation(model, gradient_maps, images, labels, seed=0)
    # Eight patches put the mean well below the threshold but can leave the interval wide.
    assert result.similarity[-1] < 0.5 and result.outcome != "failed", result.similarity
    assert torch.equal(torch.get_rng_state(), rng_state)
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    again = cascading_randomisation(model, gradient_maps, images, labels, seed=0)
    np.testing.assert_array_equal(again.per_image, result.per_image)


def test_gradient_map_passes_on_evidence_from_enough_patches(trained_toy):
    model, _, _ = trained_toy
    images, labels = _blob_images(32, torch.Generator().manual_seed(1))
    result = cascading_randomisation(model, gradient_maps, images, labels, seed=0)
    assert result.outcome == "passed" and result.passed, (result.similarity, result.ci95)
    assert result.ci95[1] < SIMILARITY_THRESHOLD


def test_the_decision_reads_the_interval_not_the_mean():
    rng = np.random.default_rng(0)
    assert decide(np.full(10, 0.9)) == "failed"  # no spread: the interval is the value itself
    assert decide(np.full(10, 0.1)) == "passed"
    assert decide(0.1 + 0.01 * rng.standard_normal(10)) == "passed"
    assert decide(0.9 + 0.01 * rng.standard_normal(10)) == "failed"
    # Mean 0.3, below the threshold, but the values straddle it: an all-mean rule would pass this.
    straddling = np.array([-0.4, 0.75, 0.7, -0.3, 0.75])
    assert straddling.mean() < SIMILARITY_THRESHOLD
    assert decide(straddling) == "inconclusive"
    # Mean 0.6, above the threshold, and as uncertain: not passed, and not proven model-independent.
    assert decide(np.array([0.2, 1.0, 0.3, 0.9, 0.6])) == "inconclusive"
    assert decide([0.1]) == "inconclusive"  # one patch has no spread to judge
    assert decide(np.full(10, SIMILARITY_THRESHOLD)) == "failed"  # at the threshold is not below it


def test_the_interval_is_the_student_t_interval_of_the_mean():
    from scipy import stats

    values = np.array([0.1, 0.4, -0.2, 0.3, 0.25, 0.05])
    expected = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    np.testing.assert_allclose(mean_interval(values), expected, rtol=1e-12)
    assert np.isnan(mean_interval([0.3])).all()
    assert mean_interval([0.3, np.nan, 0.3]) == pytest.approx((0.3, 0.3))
    with pytest.raises(ConfigError, match="confidence"):
        mean_interval(values, confidence=95)


def test_unknown_layer_is_a_config_error(trained_toy):
    model, images, labels = trained_toy
    with pytest.raises(ConfigError, match="layer4"):
        cascading_randomisation(model, edge_maps, images, labels, seed=0, layers=[["layer4"]])


def test_registry_grad_cam_passes_on_the_trained_toy(trained_toy):
    from reportgen.explain import get_explainer

    model, images, labels = trained_toy

    def grad_cam_maps(candidate, batch, targets):
        explainer = get_explainer("grad_cam").create(candidate, seed=0, target_layer="layer1")
        return explainer.explain(batch, targets).maps

    result = cascading_randomisation(model, grad_cam_maps, images, labels, seed=0)
    assert result.passed, result.similarity
