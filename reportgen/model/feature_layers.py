"""Where a network's feature trunk and its convolutional blocks are, found by one rule for every CNN.

The rule reads the network's own module tree and one forward pass, so no torchvision family is
listed:

* the *trunk* (:func:`feature_trunk`) is the first module, descending from the model, with more than
  one parameterised child (``PCamClassifier.backbone``: the wrapper's normalisation has no parameters);
* the *default CAM layer* (:func:`default_cam_layer`) is found by one forward pass of a 96x96 zero
  patch with forward hooks: start at the trunk and take its last parameterised child whose output
  is a 4-D (N, C, H, W) map of more than one cell; while that child is an ``nn.Sequential``
  container of blocks, take its last such child in turn; stop at a block (a module that is not an
  ``nn.Sequential``, or a Sequential made of single layers such as conv + norm + activation).

Which layers this gives, at 96 px: ResNet-18 ``backbone.layer4.1`` (3x3), SqueezeNet 1.1
``backbone.features.12`` (5x5), MobileNetV3 and EfficientNet ``backbone.features.12`` /
``backbone.features.8`` (3x3), ConvNeXt ``backbone.features.7.2`` (3x3), DenseNet and VGG
``backbone.features`` (3x3).  A network with no such map (a ViT's token sequence) or with attention
layers (a transformer, whose 4-D outputs may be channels-last token grids) has none:
:func:`cam_refusal` says so in one line.
"""

from __future__ import annotations

import difflib
import itertools
import weakref

import torch
from torch import nn

#: Side of the zero patch the default CAM layer is found with (the PCam patch size).
PROBE_SIZE = 96
_FOUND: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _has_parameters(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def feature_trunk(model: nn.Module) -> tuple[str, nn.Module]:
    """(dotted prefix, module) of the trunk: descend through wrappers with a single parameterised child."""
    prefix, module = "", model
    while True:
        with_parameters = [(name, child) for name, child in module.named_children() if _has_parameters(child)]
        if len(with_parameters) != 1:
            return prefix, module
        name, module = with_parameters[0]
        prefix = f"{prefix}{name}."


def _map_outputs(model: nn.Module, size: int) -> dict[nn.Module, int]:
    """Module -> order in which it last returned a multi-cell (N, C, H, W) map, on one zero patch."""
    finished: dict[nn.Module, int] = {}
    counter = itertools.count()

    def hook(module, _inputs, output):
        if isinstance(output, torch.Tensor) and output.ndim == 4 and output.shape[-2] * output.shape[-1] > 1:
            finished[module] = next(counter)

    handles = [module.register_forward_hook(hook) for module in model.modules()]
    parameter = next(model.parameters(), None)
    modes = [(module, module.training) for module in model.modules()]
    try:
        model.eval()  # BatchNorm's running statistics stay as they are
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size, device=parameter.device if parameter is not None else "cpu"))
    finally:
        for module, training in modes:
            module.training = training
        for handle in handles:
            handle.remove()
    return finished


def _is_attention(module: nn.Module) -> bool:
    return isinstance(module, nn.MultiheadAttention) or type(module).__name__.endswith("Attention")


def default_cam_layer(model: nn.Module, *, size: int = PROBE_SIZE) -> str | None:
    """The dotted name of ``model``'s last convolutional block by the module's rule, or ``None`` when it has none.

    Parameters
    ----------
    model : classifier taking (N, 3, size, size); left as it was (mode, no hooks, no gradients).
    size : side of the zero patch of the forward pass (default 96).
    """
    found = _FOUND.setdefault(model, {})
    if size not in found:
        found[size] = _find_cam_layer(model, size)
    return found[size]


def _find_cam_layer(model: nn.Module, size: int) -> str | None:
    if any(_is_attention(module) for module in model.modules()):
        return None
    outputs = _map_outputs(model, size)
    prefix, module = feature_trunk(model)
    name = None
    while True:
        maps = [(child_name, child) for child_name, child in module.named_children()
                if child in outputs and _has_parameters(child)]
        if not maps:
            break
        child_name, child = max(maps, key=lambda pair: outputs[pair[1]])
        if name is not None and not any(True for _ in child.children()):
            break  # the container is a block of single layers (conv, norm, activation): it is the target
        name, module = f"{prefix}{child_name}", child
        prefix = f"{name}."
        if not isinstance(module, nn.Sequential):
            break
    return name


def cam_refusal(model: nn.Module, method: str) -> str | None:
    """One line saying why ``method`` (a CAM) cannot run on ``model``, or ``None`` when it can."""
    if any(_is_attention(module) for module in model.modules()):
        return (f"{method} needs a convolutional feature map; this model has attention layers (a transformer), "
                "whose token grid a CAM does not read here; choose other methods with --methods")
    if default_cam_layer(model) is None:
        return (f"{method} needs a convolutional feature map; no layer of this model gives an (N, C, H, W) map; "
                "choose other methods with --methods")
    return None


def close_layer_names(model: nn.Module, name: str, limit: int = 4) -> list[str]:
    """Up to ``limit`` module names of ``model`` close to ``name`` (the last ones by block when none is close)."""
    names = [candidate for candidate, _ in model.named_modules() if candidate]
    close = difflib.get_close_matches(name, names, n=limit, cutoff=0.6)
    if close:
        return close
    default = default_cam_layer(model)
    shallow = [candidate for candidate in names if candidate.count(".") <= (default or "").count(".")]
    return shallow[-limit:]
