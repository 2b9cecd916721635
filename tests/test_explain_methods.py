"""Method-specific behaviour on toy models whose right answer is known by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from reportgen.errors import ConfigError
from reportgen.explain import get_explainer
from reportgen.explain._superpixels import quickshift_segments
from reportgen.explain.integrated_gradients import completeness_extras
from reportgen.runtime import derive_seed

SMALL_SUPERPIXELS = {"kernel_size": 2, "max_dist": 20}
REGION = (slice(0, 8), slice(0, 8))  # the top-left 8x8 block of a 32x32 image


class LinearModel(nn.Module):
    """Class-1 logit = <weight, image>, class-0 logit = its negative; weight is zero off ``REGION``."""

    def __init__(self, squash: bool = False):
        super().__init__()
        weight = torch.zeros(1, 3, 32, 32)
        weight[:, :, REGION[0], REGION[1]] = torch.linspace(0.1, 1.0, 3 * 64).reshape(3, 8, 8)
        self.weight = nn.Parameter(weight)
        self.squash = squash

    def forward(self, images):
        score = (images * self.weight).sum(dim=(1, 2, 3))
        if self.squash:
            score = 3 * torch.tanh(score / 10)
        return torch.stack([-score, score], dim=1)


class RegionBrightnessModel(nn.Module):
    """Tumour logit rises with the mean brightness of ``REGION``; records every input it sees."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(20.0))
        self.seen: list[torch.Tensor] = []

    def forward(self, images):
        self.seen.append(images.detach().clone())
        brightness = images[:, :, REGION[0], REGION[1]].mean(dim=(1, 2, 3))
        score = self.scale * (brightness - 0.5)
        return torch.stack([torch.zeros_like(score), score], dim=1)


class RedCamModel(nn.Module):
    """Feature map = red channel average-pooled by 4; tumour logit = its mean, normal logit = minus it.

    Grad-CAM weights are then +1/(h*w) for tumour and -1/(h*w) for normal, so the tumour CAM
    is the pooled red channel itself and the normal CAM is zero everywhere.
    """

    def __init__(self):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.stem = nn.Conv2d(3, 1, 1, bias=False)
        self.backbone.layer4 = nn.Sequential(nn.AvgPool2d(4), nn.Identity())
        with torch.no_grad():
            self.backbone.stem.weight.copy_(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))

    def forward(self, images):
        score = self.backbone.layer4(self.backbone.stem(images)).mean(dim=(1, 2, 3))
        return torch.stack([-score, score], dim=1)


def blocky_image(*, bright_region: bool = True) -> torch.Tensor:
    """(1, 3, 32, 32): 4x4 blocks of distinct colours; the ``REGION`` block bright when asked."""
    generator = torch.Generator().manual_seed(3)
    blocks = 0.2 + 0.5 * torch.rand(1, 3, 4, 4, generator=generator)
    if bright_region:
        blocks[:, :, 0, 0] = 0.95
    return blocks.repeat_interleave(8, dim=2).repeat_interleave(8, dim=3)


def red_square_image(size: int = 32) -> torch.Tensor:
    image = torch.full((1, 3, size, size), 0.1)
    image[:, 0, size // 2 :, size // 2 :] = 0.9
    return image


def peak(raw: np.ndarray) -> tuple[int, int]:
    """(row, column) of the map's maximum."""
    row, column = np.unravel_index(raw.argmax(), raw.shape)
    return int(row), int(column)


def explainer(name, model, **settings):
    return get_explainer(name).create(model, **settings)


# Integrated Gradients ---------------------------------------------------------------------------


def test_integrated_gradients_on_a_linear_model_is_exact_and_confined_to_used_pixels():
    model, image = LinearModel(), blocky_image()
    result = explainer("integrated_gradients", model).explain(image, torch.tensor([1]))
    expected = (image * model.weight.detach()).abs().mean(dim=1)[0].numpy()
    np.testing.assert_allclose(result.maps[0], expected, rtol=1e-4, atol=1e-7)
    outside = np.ones((32, 32), bool)
    outside[REGION] = False
    assert (result.maps[0][outside] == 0).all() and (result.maps[0][REGION] > 0).all()
    assert result.extras["abs_completeness_delta"][0] < 1e-4
    assert result.extras["relative_completeness_delta"][0] < 1e-5
    assert result.forward_passes >= 50 and result.backward_passes == 50


def test_integrated_gradients_completeness_delta_is_small_on_a_smooth_model():
    model, image = LinearModel(squash=True), blocky_image()
    result = explainer("integrated_gradients", model, n_steps=50).explain(image, torch.tensor([1]))
    with torch.no_grad():
        change = (model(image) - model(torch.zeros_like(image)))[0, 1].item()
    assert abs(change) > 0.5
    assert result.extras["abs_completeness_delta"][0] < 1e-3 * abs(change)


class ExponentialModel(nn.Module):
    """Class-1 logit = exp(mean red value * 10): convex along the path, so a coarse integral undershoots."""

    def forward(self, images):
        score = torch.exp(10 * images[:, 0].mean(dim=(1, 2)))
        return torch.stack([-score, score], dim=1)


def _relative_delta_by_hand(model, images, attributions_total):
    with torch.no_grad():
        change = (model(images) - model(torch.zeros_like(images)))[:, 1].double().numpy()
    return np.abs(attributions_total - change) / np.abs(change)


def test_completeness_holds_on_a_linear_model_and_no_warning_is_raised():
    model, images = LinearModel(), torch.cat([blocky_image(), blocky_image(bright_region=False)])
    ig = get_explainer("integrated_gradients").factory
    result = ig(model).explain(images, torch.tensor([1, 1]))
    np.testing.assert_array_less(result.extras["relative_completeness_delta"], 1e-5)
    assert ig.summary_warnings(result.extras) == []


def test_too_few_steps_on_a_curved_model_gives_a_large_relative_delta_and_a_warning():
    model, images = ExponentialModel(), torch.cat([blocky_image(), blocky_image(bright_region=False)])
    ig = get_explainer("integrated_gradients").factory
    coarse = ig(model, n_steps=1).explain(images, torch.tensor([1, 1]))
    # One Gauss-Legendre point takes the gradient at the path's midpoint only: for F = exp(10 m t)
    # along t in [0, 1] that gives 10 m exp(5 m) instead of exp(10 m) - 1.
    mean_red = images[:, 0].mean(dim=(1, 2)).double().numpy()
    expected = _relative_delta_by_hand(model, images, 10 * mean_red * np.exp(5 * mean_red))
    np.testing.assert_allclose(coarse.extras["relative_completeness_delta"], expected, rtol=1e-4)
    assert (expected > 0.2).all()
    (warning,) = ig.summary_warnings(coarse.extras)
    assert "raise n_steps" in warning and f"{np.median(expected):.2f}" in warning
    fine = ig(model, n_steps=50).explain(images, torch.tensor([1, 1]))
    np.testing.assert_array_less(fine.extras["relative_completeness_delta"], 1e-3)
    assert ig.summary_warnings(fine.extras) == []


def test_relative_delta_is_undefined_when_the_baseline_scores_the_same():
    extras = completeness_extras(np.array([0.5, 0.0, 0.2]), np.array([2.0, 0.0, -0.1]))
    np.testing.assert_allclose(extras["abs_completeness_delta"], [0.5, 0.0, 0.2])
    np.testing.assert_allclose(extras["relative_completeness_delta"], [0.25, np.nan, 2.0])
    # The median is over the defined ratios (0.25, 2.0): above the threshold.
    assert get_explainer("integrated_gradients").factory.summary_warnings(extras)


def test_integrated_gradients_baselines():
    model, image = LinearModel(), blocky_image()
    white = explainer("integrated_gradients", model, baseline="white").explain(image, torch.tensor([1]))
    expected = ((image - 1) * model.weight.detach()).abs().mean(dim=1)[0].numpy()
    np.testing.assert_allclose(white.maps[0], expected, rtol=1e-4, atol=1e-7)
    # A flat image equals its own blur, so the blurred baseline leaves nothing to attribute.
    flat = torch.full((1, 3, 32, 32), 0.6)
    blur = explainer("integrated_gradients", model, baseline="blur").explain(flat, torch.tensor([1]))
    assert np.abs(blur.maps).max() < 1e-5
    with pytest.raises(ConfigError, match="baseline='grey' is invalid; choose from: black, white, blur"):
        explainer("integrated_gradients", model, baseline="grey")
    with pytest.raises(ConfigError, match="n_steps=0"):
        explainer("integrated_gradients", model, n_steps=0)


# Grad-CAM and Grad-CAM++ ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["grad_cam", "grad_cam_pp"])
def test_cam_follows_the_feature_it_is_built_from(name):
    result = explainer(name, RedCamModel()).explain(red_square_image().repeat(2, 1, 1, 1), torch.tensor([1, 0]))
    tumour, normal = result.maps
    assert tumour[16:, 16:].mean() > 5 * tumour[:12, :12].mean()
    assert min(peak(tumour)) >= 16
    # Negative channel weights: ReLU leaves nothing for the normal class.
    assert np.abs(normal).max() == 0


def test_grad_cam_raw_map_keeps_its_scale():
    model = RedCamModel()
    bright = explainer("grad_cam", model).explain(red_square_image(), torch.tensor([1]))
    dim = explainer("grad_cam", model).explain(red_square_image() * 0.5, torch.tensor([1]))
    np.testing.assert_allclose(dim.maps, bright.maps * 0.5, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(("size", "cells", "warned"), [(12, "3x3", True), (32, "8x8", False)])
def test_grad_cam_records_the_feature_map_size_and_warns_when_coarse(size, cells, warned):
    result = explainer("grad_cam", RedCamModel()).explain(red_square_image(size), torch.tensor([1]))
    assert result.settings["feature_map_size"] == cells
    assert result.settings["target_layer"] == "backbone.layer4.1"
    assert any(cells in warning for warning in result.warnings) == warned


def test_grad_cam_unknown_layer_lists_valid_names():
    with pytest.raises(ConfigError, match="target_layer 'backbone.layer5' .*backbone.layer4"):
        explainer("grad_cam", RedCamModel(), target_layer="backbone.layer5")


def test_grad_cam_chosen_layer_is_used():
    result = explainer("grad_cam", RedCamModel(), target_layer="backbone.stem").explain(
        red_square_image(), torch.tensor([1])
    )
    assert result.settings["feature_map_size"] == "32x32" and not result.warnings


# LIME -------------------------------------------------------------------------------------------


def lime_explain(model, image, *, seed=0, **settings):
    options = {"num_samples": 120, "batch_size": 50, "seed": seed, **SMALL_SUPERPIXELS, **settings}
    return explainer("lime", model, **options).explain(image, torch.tensor([1] * len(image)))


def test_lime_model_sees_exactly_the_image_or_the_hide_colour():
    model, image = RegionBrightnessModel(), blocky_image()
    result = lime_explain(model, image)
    seen = torch.cat(model.seen)
    distinct = int(result.extras["distinct_perturbations"][0])
    assert seen.dtype == torch.float32 and seen.shape == (distinct, 3, 32, 32)
    assert result.forward_passes == distinct <= 120  # each distinct perturbation is predicted once
    assert len(torch.unique(seen.reshape(distinct, -1), dim=0)) == distinct
    assert (seen == image).all(dim=(1, 2, 3)).sum() == 1  # the unperturbed image once
    kept = seen == image
    hidden = seen == 0
    assert (kept | hidden).all(), "a sample pixel is neither the image nor the hide colour"
    assert hidden.any() and seen.min() >= 0 and seen.max() <= 1


def _plain_lime_map(model, image, *, seed, num_samples, batch_size, kernel_size, max_dist, ratio=0.2):
    """The map of lime's own ``LimeImageExplainer.explain_instance`` with reportgen's settings and seeds."""
    from lime import lime_image

    from reportgen.explain._superpixels import paint, quickshift_segmenter

    def classifier_fn(batch_hwc):
        images = torch.from_numpy(batch_hwc).permute(0, 3, 1, 2).float()
        with torch.inference_mode():
            return torch.softmax(model(images), dim=1).numpy()

    image_hwc = image[0].permute(1, 2, 0).double().numpy()
    segmenter = quickshift_segmenter(kernel_size=kernel_size, max_dist=max_dist, ratio=ratio,
                                     seed=derive_seed(seed, 0))
    explanation = lime_image.LimeImageExplainer(random_state=derive_seed(seed, 0)).explain_instance(
        image_hwc, classifier_fn, labels=(1,), hide_color=0.0, top_labels=None, num_features=100_000,
        num_samples=num_samples, batch_size=batch_size, segmentation_fn=segmenter)
    return paint(explanation.segments, dict(explanation.local_exp[1]))


@pytest.mark.parametrize("segmentation, superpixels", [
    ({"kernel_size": 4, "max_dist": 200}, (2, 6)),     # quickshift's defaults on 32 px: few superpixels
    ({"kernel_size": 1, "max_dist": 6}, (12, 300)),    # fine segments: hardly any mask repeats
])
def test_lime_maps_equal_the_plain_lime_call(segmentation, superpixels):
    model, image = RegionBrightnessModel(), blocky_image()
    image = (image + 0.02 * torch.rand(image.shape, generator=torch.Generator().manual_seed(5))).clamp(0, 1)
    for seed in (0, 3):
        ours = lime_explain(model, image, seed=seed, num_samples=400, **segmentation)
        count = int(ours.extras["n_superpixels"][0])
        assert superpixels[0] <= count <= superpixels[1]
        plain = _plain_lime_map(model, image, seed=seed, num_samples=400, batch_size=50, **segmentation)
        np.testing.assert_allclose(ours.maps[0], plain, rtol=1e-5, atol=1e-6)
        distinct = int(ours.extras["distinct_perturbations"][0])
        assert ours.forward_passes == distinct <= min(400, 2 ** count)


def test_lime_weights_point_at_the_region_the_model_uses():
    result = lime_explain(RegionBrightnessModel(), blocky_image())
    raw = result.maps[0]
    assert max(peak(raw)) < 8
    assert raw[REGION].mean() > 10 * np.abs(raw[8:, 8:]).mean()


@pytest.mark.parametrize("count", [5, 2])
def test_lime_display_map_is_the_top_positive_superpixels(count):
    seed = 4
    result = lime_explain(RegionBrightnessModel(), blocky_image(), seed=seed, num_display_superpixels=count)
    display, raw = result.display_maps[0], result.maps[0]
    assert set(np.unique(display)) <= {0.0, 1.0} and display.max() == 1
    image_hwc = blocky_image()[0].permute(1, 2, 0).double().numpy()
    segments = quickshift_segments(image_hwc, seed=derive_seed(seed, 0), ratio=0.2, **SMALL_SUPERPIXELS)
    shown = np.unique(segments[display == 1])
    assert 1 <= len(shown) <= count
    assert all((display[segments == segment] == 1).all() for segment in shown)
    assert (raw[display == 1] > 0).all()
    assert raw[display == 1].min() >= raw[display == 0].max() or len(shown) < count


def test_lime_seed_changes_the_result_and_per_image_seeds_ignore_batching():
    model, image = RegionBrightnessModel(), blocky_image()
    first, other = lime_explain(model, image, seed=0), lime_explain(model, image, seed=1)
    assert not np.array_equal(first.maps, other.maps)
    pair = lime_explain(model, torch.cat([image, image]), seed=0)
    np.testing.assert_array_equal(pair.maps[0], first.maps[0])


def test_lime_bf16_forwards_run():
    result = lime_explain(RegionBrightnessModel(), blocky_image(), precision="bf16")
    assert np.isfinite(result.maps).all() and result.settings["precision"] == "bf16"


def test_lime_rejects_a_hide_colour_outside_the_pixel_range():
    with pytest.raises(ConfigError, match="hide_color=255"):
        explainer("lime", RegionBrightnessModel(), hide_color=255)


# Gradient saliency and SmoothGrad ---------------------------------------------------------------


def test_saliency_and_smoothgrad_of_a_linear_model_are_its_weights():
    model, image = LinearModel(), blocky_image()
    expected = model.weight.detach().abs().amax(dim=1)[0].numpy()
    saliency = explainer("saliency", model).explain(image, torch.tensor([1]))
    smooth = explainer("smoothgrad", model, n_samples=6).explain(image, torch.tensor([1]))
    np.testing.assert_allclose(saliency.maps[0], expected, rtol=1e-6)
    # The gradient of a linear model does not depend on the noise.
    np.testing.assert_allclose(smooth.maps[0], expected, rtol=1e-5)
    assert smooth.forward_passes == smooth.backward_passes == 6


# Occlusion and KernelSHAP -----------------------------------------------------------------------


def test_occlusion_only_credits_windows_that_touch_the_region():
    result = explainer("occlusion", RegionBrightnessModel(), window=8, stride=4).explain(
        blocky_image(), torch.tensor([1])
    )
    raw = result.maps[0]
    assert (raw[REGION] > 0).all()
    assert (raw[12:, :] == 0).all() and (raw[:, 12:] == 0).all()
    assert result.forward_passes == 1 + 7 * 7


def test_occlusion_window_larger_than_the_image_is_a_config_error():
    with pytest.raises(ConfigError, match="window=40 is larger than the 32x32 image"):
        explainer("occlusion", RegionBrightnessModel(), window=40).explain(blocky_image(), torch.tensor([1]))


def test_kernel_shap_credits_the_region_the_model_uses():
    result = explainer("kernel_shap", RegionBrightnessModel(), n_samples=80, **SMALL_SUPERPIXELS).explain(
        blocky_image(), torch.tensor([1])
    )
    raw = result.maps[0]
    assert max(peak(raw)) < 8
    assert raw[REGION].mean() > 10 * np.abs(raw[8:, 8:]).mean()


def test_kernel_shap_of_a_single_superpixel_is_the_whole_change():
    model, flat = RegionBrightnessModel(), torch.full((1, 3, 32, 32), 0.8)
    result = explainer("kernel_shap", model).explain(flat, torch.tensor([1]))
    with torch.no_grad():
        probabilities = torch.softmax(model(torch.cat([flat, torch.zeros_like(flat)])), dim=1)[:, 1]
    assert result.extras["n_superpixels"][0] == 1
    np.testing.assert_allclose(result.maps[0], (probabilities[0] - probabilities[1]).item(), rtol=1e-5)
