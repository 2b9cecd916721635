"""Shared code of the class-activation-map methods (pytorch-grad-cam).

The CAM object is used as a context manager so its forward hooks are removed
when the method returns. grad-cam min-max normalises every CAM to [0, 1] by
default; the raw map here is instead the un-normalised CAM (ReLU of the
weighted activations, in logit units) upsampled bilinearly to the input size.
Ranking is the same either way, but the raw scale keeps a near-empty CAM
near zero instead of stretching it to full range, and the min subtraction
would move mass towards the peak (docs/metrics.md#localisation, centre mass). The feature-map
size is reported, with a warning when it is 3x3 or smaller.  On a transformer the target layer's tokens
are read on the patch embedding's grid (:class:`reportgen.model.feature_layers.TokenGrid`), so the map is
a grid of h x w cells, one per image patch token.
"""

from __future__ import annotations

import dataclasses
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.nn import functional

from reportgen.errors import ConfigError
from reportgen.explain.base import Explainer, MethodStanding
from reportgen.model.feature_layers import (
    cam_refusal,
    close_layer_names,
    default_cam_layer,
    is_transformer,
    stability_cam_layers,
    token_grid,
)

if TYPE_CHECKING:  # the schema reads the methods' stability variants from reportgen.explain
    from reportgen.schema import MethodSection

#: ``model.backbone.layer4[-1]`` of the PCam ResNet-18: what the layer rule
#: (:func:`reportgen.model.feature_layers.default_cam_layer`) gives for it, and the method's default without a model.
DEFAULT_TARGET_LAYER = "backbone.layer4.1"
#: A feature map of this many cells or fewer is coarse: at 96 px ResNet-18's last block is 3x3, and every
#: cell's receptive field covers the whole patch, so whether its cells follow the evidence depends on the
#: trained weights, not on the method.
COARSE_CELLS = 9
#: The next-finer block of the PCam ResNet-18 (6x6 at 96 px): the one to compare with its coarse default (another
#: architecture's hint names no layer).
FINER_TARGET_LAYER = "backbone.layer3.1"


def coarse_feature_map(size: str | None) -> bool:
    """Whether a feature map of ``size`` ("HxW", as the method's settings record it) is coarse."""
    try:
        height, width = (int(part) for part in str(size or "").split("x"))
    except ValueError:
        return False
    return height * width <= COARSE_CELLS


def _grad_cam_version() -> str:
    try:
        return version("grad-cam")
    except PackageNotFoundError:
        return "unknown"


def resolve_layer(model: torch.nn.Module, name: str, method: str) -> torch.nn.Module:
    """``model.get_submodule(name)``; an unknown name raises a one-line ConfigError naming close layer names."""
    try:
        return model.get_submodule(name)
    except AttributeError:
        close = ", ".join(close_layer_names(model, name)) or "(the model has no submodules)"
        default = default_cam_layer(model)
        raise ConfigError(f"{method}: target_layer {name!r} is not a layer of the model; close layer names: {close}"
                          + (f" (the default is {default})" if default else "")) from None


class CamExplainer(Explainer):
    """Base of Grad-CAM-style methods. Setting: ``target_layer`` (dotted module name).

    Subclasses implement :meth:`cam_class`, which returns a pytorch-grad-cam ``BaseCAM`` subclass;
    the library (and scikit-learn, which it imports) loads only when a map is computed, so a
    rebuild served from the cache never pays for it.
    """

    #: The default ``target_layer`` of a model is its last convolutional block by one rule
    #: (:func:`reportgen.model.feature_layers.default_cam_layer`: ``backbone.layer4.1`` for ResNet-18); a model
    #: without a convolutional feature map (a transformer) is refused (:meth:`check_model`).
    defaults = {"target_layer": DEFAULT_TARGET_LAYER}
    setting_labels = {"target_layer": "Target layer", "feature_map_size": "Feature map size"}

    @staticmethod
    def cam_class():
        """The pytorch-grad-cam class that computes the CAM."""
        raise NotImplementedError

    @classmethod
    def _check_settings(cls, settings: dict) -> dict:
        if not isinstance(settings["target_layer"], str):
            raise ConfigError(f"{cls.name}: setting target_layer={settings['target_layer']!r} must be a dotted module name")
        return settings

    @classmethod
    def model_defaults(cls, model: torch.nn.Module) -> dict:
        layer = default_cam_layer(model)
        return {"target_layer": layer} if layer else {}

    @classmethod
    def check_model(cls, model: torch.nn.Module, given: dict) -> None:
        refusal = cam_refusal(model, cls.name)
        if refusal:
            raise ConfigError(refusal)
        if "target_layer" in given:
            resolve_layer(model, cls.resolve_settings(given)["target_layer"], cls.name)

    @classmethod
    def variant_values(cls, variant, model: torch.nn.Module) -> tuple[str, ...]:
        """A ``target_layer`` variant takes the model's own layers by one rule
        (:func:`reportgen.model.feature_layers.stability_cam_layers`); any other its declared values."""
        if variant.setting != "target_layer":
            return variant.values
        return stability_cam_layers(model)

    @classmethod
    def variant_skip_reason(cls, variant, model: torch.nn.Module) -> str | None:
        if variant.setting != "target_layer" or cls.variant_values(variant, model):
            return None
        return ("the table's rule finds no convolutional stage or transformer block with a feature map in this "
                "model; compare layers with --grad-cam-layer")

    def __init__(self, model: torch.nn.Module, **options):
        super().__init__(model, **options)
        # The layer exists only on a model, so it is checked here rather than with the other settings.
        self.layer = resolve_layer(self.model, self.settings["target_layer"], self.name)
        self.feature_map_size: str | None = None

    def _details(self) -> dict:
        return {
            "model_output": "logit",
            "feature_map_size": self.feature_map_size,
            "raw_map": "relu_cam_unnormalised_bilinear",
            "grad_cam": _grad_cam_version(),
        }

    def _attribute(self, images, targets):
        height, width = images.shape[-2:]
        chunks = range(0, len(images), self.batch_size)
        cells = []
        # A transformer's (N, T, C) tokens are read on its patch grid at this size (class and register tokens dropped).
        grid = token_grid(self.model, size=height) if is_transformer(self.model) else None
        reshape = None if grid is None else grid.to_map
        with self.cam_class()(model=self.model, target_layers=[self.layer], reshape_transform=reshape) as cam:
            for start in chunks:
                cells.append(self._cells(cam, images[start : start + self.batch_size], targets[start : start + self.batch_size]))
        if len(cells) != len(chunks):
            raise RuntimeError(f"{self.name}: the CAM library stopped early; see its message above")
        cells = torch.cat(cells)
        self.feature_map_size = f"{cells.shape[-2]}x{cells.shape[-1]}"
        if coarse_feature_map(self.feature_map_size):
            self.warnings.append(self.coarse_message(self.settings["target_layer"], self.feature_map_size))
        self.forward_passes = self.backward_passes = len(images)
        maps = functional.interpolate(cells[:, None], size=(height, width), mode="bilinear", align_corners=False)
        return maps[:, 0].numpy(), None, None

    @classmethod
    def coarse_message(cls, layer: str, size: str) -> str:
        return f"{cls.name}: the feature map of {layer} is {size}; the map has only that many distinct cells (upsampling plateaus)"

    @classmethod
    def report_warnings(cls, record: MethodSection, standing: MethodStanding) -> list[tuple[str, str]]:
        """A coarse map that is not better than the random map gets one sentence pointing at finer layers, in
        place of the method's own feature-map warning; otherwise the method's own warnings."""
        layer, size = record.settings.get("target_layer"), record.settings.get("feature_map_size")
        if not (layer and coarse_feature_map(size) and standing.not_better_than_random):
            return super().report_warnings(record, standing)
        compare = (f"the {standing.title} layer table (Stability of the explanations) scores the finer layers"
                   if standing.other_settings_scored else "compare a finer layer with --grad-cam-layer "
                   + (FINER_TARGET_LAYER if layer == DEFAULT_TARGET_LAYER else "NAME (an earlier block)"))
        own = cls.coarse_message(layer, size)
        rest = dataclasses.replace(record, warnings=[message for message in record.warnings if message != own])
        return [("medium", f"{standing.title}: the {layer} feature map is {size} ({COARSE_CELLS} cells or fewer), each "
                           "cell seeing the whole patch, so the map has only that many distinct values and can lose "
                           f"the link to where the evidence lies; {compare}."),
                *super().report_warnings(rest, standing)]

    def _cells(self, cam, images, targets) -> torch.Tensor:
        """(B, h, w) non-negative CAM at the target layer's resolution."""
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        # The input needs a gradient because the parameters are frozen while explaining.
        images = images.clone().requires_grad_(True)
        cam_targets = [ClassifierOutputTarget(int(target)) for target in targets]
        cam(input_tensor=images, targets=cam_targets)
        activations = cam.activations_and_grads.activations
        gradients = cam.activations_and_grads.gradients
        if not activations or not gradients or activations[0].ndim != 4:
            raise ConfigError(
                f"{self.name}: target_layer {self.settings['target_layer']!r} gives no (N, C, h, w) feature map "
                "with a gradient; choose a convolutional layer the output depends on"
            )
        weighted = cam.get_cam_image(images, self.layer, cam_targets, activations[0].numpy(), gradients[0].numpy())
        return torch.from_numpy(np.maximum(weighted, 0).astype(np.float32))
