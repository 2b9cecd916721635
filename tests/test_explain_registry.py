"""Contract tests run for every registered explanation method on a tiny CNN."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from reportgen.errors import ConfigError, DataError
from reportgen.explain import get_explainer, list_explainers

#: Small budgets so every method runs in well under a second on 32x32 images.
#: Smaller quickshift kernels find 10-16 superpixels on 32x32 images (the defaults suit 96x96).
SMALL_SUPERPIXELS = {"kernel_size": 2, "max_dist": 20}
FAST_SETTINGS = {
    "integrated_gradients": {"n_steps": 8},
    "lime": {"num_samples": 60, **SMALL_SUPERPIXELS},
    "kernel_shap": {"n_samples": 40, **SMALL_SUPERPIXELS},
    "smoothgrad": {"n_samples": 4},
    "occlusion": {"window": 8, "stride": 8},
}


class TinyBackbone(nn.Module):
    """Named like torchvision's ResNet, so Grad-CAM's default ``backbone.layer4.1`` exists."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 6, 3, stride=2, padding=1), nn.BatchNorm2d(6), nn.ReLU())
        self.layer4 = nn.Sequential(nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU())
        self.fc = nn.Linear(8, 2)

    def forward(self, images):
        features = self.layer4(self.stem(images))
        return self.fc(features.mean(dim=(2, 3)))


class TinyClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = TinyBackbone()

    def forward(self, images):
        return self.backbone(images)


def tiny_model() -> TinyClassifier:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = TinyClassifier()
        # Different weights per class, so class 0 and class 1 get different explanations.
        nn.init.normal_(model.backbone.fc.weight, std=1.0)
    return model.eval()


def tiny_images(n: int = 2, size: int = 32) -> torch.Tensor:
    """Blocks of 8x8 random colours with mild noise, so quickshift finds several superpixels."""
    generator = torch.Generator().manual_seed(1)
    blocks = torch.rand(n, 3, size // 8, size // 8, generator=generator)
    images = blocks.repeat_interleave(8, dim=2).repeat_interleave(8, dim=3)
    return (images + 0.03 * torch.randn(images.shape, generator=generator)).clamp(0, 1)


def explain(name, model, images, targets, **settings):
    options = {"batch_size": 16, **FAST_SETTINGS.get(name, {}), **settings}
    return get_explainer(name).create(model, **options).explain(images, targets)


METHODS = list_explainers()


def test_registry_holds_the_three_defaults_and_five_extras():
    assert list_explainers(default_only=True) == ["integrated_gradients", "grad_cam", "lime"]
    assert set(METHODS) == {
        "integrated_gradients", "grad_cam", "lime", "saliency", "smoothgrad", "occlusion", "kernel_shap", "grad_cam_pp",
    }
    for name in METHODS:
        info = get_explainer(name)
        assert info.name == name and info.reference and info.title


def test_unknown_method_lists_valid_names():
    with pytest.raises(ConfigError, match="unknown method 'gradcam'; choose from: .*grad_cam.*lime"):
        get_explainer("gradcam")


@pytest.mark.parametrize("name", METHODS)
def test_maps_shape_dtype_counts_and_settings(name):
    images = tiny_images(3)
    result = explain(name, tiny_model(), images, torch.tensor([0, 1, 1]))
    assert result.method == name
    assert result.maps.shape == (3, 32, 32) and result.maps.dtype == np.float32
    assert np.isfinite(result.maps).all()
    assert result.maps.reshape(3, -1).std(axis=1).min() > 0, "a map is constant"
    if not get_explainer(name).signed:
        assert result.maps.min() >= 0
    assert result.forward_passes >= 3 and result.backward_passes >= 0
    assert result.seconds > 0
    settings = json.loads(json.dumps(result.settings))
    assert settings["seed"] == 0 and settings["batch_size"] == 16 and settings["precision"] == "fp32"
    for key, value in FAST_SETTINGS.get(name, {}).items():
        assert settings[key] == value
    for values in result.extras.values():
        assert len(values) == 3


@pytest.mark.parametrize("name", METHODS)
def test_same_seed_gives_identical_results(name):
    model, images, targets = tiny_model(), tiny_images(2), torch.tensor([1, 0])
    first = explain(name, model, images, targets, seed=7)
    second = explain(name, model, images, targets, seed=7)
    np.testing.assert_array_equal(first.maps, second.maps)
    if first.display_maps is not None:
        np.testing.assert_array_equal(first.display_maps, second.display_maps)
    assert first.extras.keys() == second.extras.keys()
    for key in first.extras:
        np.testing.assert_array_equal(first.extras[key], second.extras[key])


@pytest.mark.parametrize("name", METHODS)
def test_batch_size_does_not_change_the_maps(name):
    model, images, targets = tiny_model(), tiny_images(3), torch.tensor([1, 0, 1])
    small = explain(name, model, images, targets, batch_size=2)
    large = explain(name, model, images, targets, batch_size=512)
    np.testing.assert_allclose(small.maps, large.maps, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", METHODS)
def test_model_is_left_exactly_as_it_was(name):
    model = tiny_model()
    model.train()  # BatchNorm would update its running statistics if explained in train mode
    model.backbone.stem[0].weight.requires_grad_(False)
    state = {key: value.clone() for key, value in model.state_dict().items()}
    flags = [parameter.requires_grad for parameter in model.parameters()]
    modes = [module.training for module in model.modules()]

    explain(name, model, tiny_images(2), torch.tensor([0, 1]))

    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    assert [parameter.requires_grad for parameter in model.parameters()] == flags
    assert [module.training for module in model.modules()] == modes
    assert all(parameter.grad is None for parameter in model.parameters())
    for module in model.modules():
        for hooks in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"):
            assert not getattr(module, hooks), f"{hooks} left on {type(module).__name__}"


@pytest.mark.parametrize("name", METHODS)
def test_explained_class_changes_the_map(name):
    model, images = tiny_model(), tiny_images(2)
    class_0 = explain(name, model, images, torch.tensor([0, 0]))
    class_1 = explain(name, model, images, torch.tensor([1, 1]))
    assert not np.allclose(class_0.maps, class_1.maps)


@pytest.mark.parametrize("name", METHODS)
def test_unknown_and_invalid_settings_raise_config_errors(name):
    info = get_explainer(name)
    with pytest.raises(ConfigError, match=f"{name}: unknown setting 'bogus'"):
        info.create(tiny_model(), bogus=1)
    with pytest.raises(ConfigError, match="precision='fp16'.*fp32, bf16"):
        info.create(tiny_model(), precision="fp16")
    with pytest.raises(ConfigError, match="batch_size=0"):
        info.create(tiny_model(), batch_size=0)


@pytest.mark.parametrize("name", METHODS)
def test_bad_image_shape_is_a_data_error(name):
    explainer = get_explainer(name).create(tiny_model())
    with pytest.raises(DataError, match=r"\(N, 3, H, W\)"):
        explainer.explain(torch.rand(2, 32, 32, 3), torch.tensor([0, 1]))
    with pytest.raises(DataError, match="one class index per image"):
        explainer.explain(tiny_images(2), torch.tensor([0, 1, 1]))


def test_every_shorthand_sets_a_real_setting_and_states_its_default():
    from reportgen.explain.shorthands import SHORTHANDS

    for option, (targets, meaning) in SHORTHANDS.items():
        for target in targets:
            method, setting = target.split(".")
            defaults = get_explainer(method).factory.defaults
            assert setting in defaults, f"--{option.replace('_', '-')} sets {target}, which is not a setting"
            if meaning is not None:
                assert f"(default {defaults[setting]})" in meaning, (option, meaning)
