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
``backbone.features`` (3x3).

The same walk, taken through every child instead of the last, lists the trunk's *blocks* in the order they
run (:func:`_map_blocks`; the default CAM layer is the last of them).  A *stage* is a run of consecutive
blocks whose maps have one size (the blocks between two downsamplings).  The layers of Grad-CAM's per-layer
stability table (:func:`stability_cam_layers`) are the last block of each of the last three stages, coarsest
last, so the last is the default CAM layer: ResNet-18 ``backbone.layer2.1``, ``layer3.1``, ``layer4.1``
(12x12, 6x6, 3x3), SqueezeNet 1.1 ``backbone.features.4``, ``.7``, ``.12`` (23x23, 11x11, 5x5), MobileNetV3
small ``backbone.features.3``, ``.8``, ``.12`` (12x12, 6x6, 3x3).  A network with fewer stages (VGG and
DenseNet, whose whole ``features`` is one block) gives the ones it has.

A transformer (a network with attention layers) gives a token sequence, not a map.  Its CAM layer
(:func:`default_cam_layer`) is the first normalisation of its last transformer block (the last module
holding an attention layer): timm's ``blocks.<last>.norm1``, torchvision's ``encoder.layers.<last>.ln_1``.
Its (N, T, C) tokens become an (N, C, h, w) map on the grid of its patch embedding (:func:`token_grid`:
the output grid of the embedding's convolution, timm's ``patch_embed.proj`` or torchvision's
``conv_proj``, in a forward pass at the patch's size), the leading class and register tokens
(timm's ``num_prefix_tokens``, torchvision's one class token) dropped.  A transformer without such a
patch embedding has no CAM layer: :func:`cam_refusal` says so in one line.  The table's layers of a
transformer are the same layer (the first normalisation) in three of its D blocks spread over the depth,
ending with the last: the last block of each third, blocks ceil(k * D / 3) - 1 for k = 1, 2, 3 (counted from
0; timm's six-block ``test_vit`` gives blocks 1, 3 and 5, a twelve-block ViT 3, 7 and 11), fewer when D < 3.
"""

from __future__ import annotations

import difflib
import itertools
import weakref
from dataclasses import dataclass

import torch
from torch import nn

from reportgen.data.files import PATCH_SIZE

_FOUND: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_GRIDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def has_parameters(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def feature_trunk(model: nn.Module) -> tuple[str, nn.Module]:
    """(dotted prefix, module) of the trunk: descend through wrappers with a single parameterised child."""
    prefix, module = "", model
    while True:
        with_parameters = [(name, child) for name, child in module.named_children() if has_parameters(child)]
        if len(with_parameters) != 1:
            return prefix, module
        name, module = with_parameters[0]
        prefix = f"{prefix}{name}."


def _map_outputs(model: nn.Module, size: int) -> dict[nn.Module, tuple[int, tuple[int, int]]]:
    """Module -> (order in which it last returned a multi-cell (N, C, H, W) map, that map's (H, W)), on one zero
    patch."""
    finished: dict[nn.Module, tuple[int, tuple[int, int]]] = {}
    counter = itertools.count()

    def hook(module, _inputs, output):
        if isinstance(output, torch.Tensor) and output.ndim == 4 and output.shape[-2] * output.shape[-1] > 1:
            finished[module] = (next(counter), tuple(output.shape[-2:]))

    handles = [module.register_forward_hook(hook) for module in model.modules()]
    try:
        _probe(model, size)
    finally:
        for handle in handles:
            handle.remove()
    return finished


def _probe(model: nn.Module, size: int) -> None:
    """One forward pass of a ``size`` x ``size`` zero patch in eval mode, without gradients; modes restored."""
    parameter = next(model.parameters(), None)
    modes = [(module, module.training) for module in model.modules()]
    try:
        model.eval()  # BatchNorm's running statistics stay as they are
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size, device=parameter.device if parameter is not None else "cpu"))
    finally:
        for module, training in modes:
            module.training = training


def is_attention(module: nn.Module) -> bool:
    return isinstance(module, nn.MultiheadAttention) or type(module).__name__.endswith("Attention")


def is_transformer_block(module: nn.Module) -> bool:
    """Whether an attention layer is among ``module``'s children (a transformer block)."""
    return any(is_attention(child) for child in module.children())


def is_transformer(model: nn.Module) -> bool:
    """Whether ``model`` has attention layers."""
    return any(is_attention(module) for module in model.modules())


@dataclass(frozen=True)
class TokenGrid:
    """How a transformer's tokens lie on the patch: ``prefix`` leading tokens (class, registers) that are not
    patches, then ``height`` x ``width`` patch tokens in row order."""

    prefix: int
    height: int
    width: int

    def to_map(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, prefix + h*w, C) tokens -> (N, C, h, w) map."""
        if tokens.ndim != 3 or tokens.shape[1] != self.prefix + self.height * self.width:
            raise ValueError(f"expected (N, {self.prefix + self.height * self.width}, C) tokens, got "
                             f"{tuple(tokens.shape)}")
        grid = tokens[:, self.prefix:, :].reshape(tokens.shape[0], self.height, self.width, tokens.shape[2])
        return grid.permute(0, 3, 1, 2)


def patch_embedding(model: nn.Module) -> tuple[nn.Module, int] | None:
    """(the convolution that cuts the image into patch tokens, the number of tokens before them) of a timm or
    torchvision Vision Transformer in ``model``, or ``None`` when no module states them."""
    for module in model.modules():
        embed = getattr(module, "patch_embed", None)
        if isinstance(getattr(embed, "proj", None), nn.Conv2d) and hasattr(module, "num_prefix_tokens"):  # timm
            return embed.proj, int(module.num_prefix_tokens)
        if isinstance(getattr(module, "conv_proj", None), nn.Conv2d) and hasattr(module, "class_token"):
            return module.conv_proj, 1  # torchvision: one class token
    return None


def patch_side(model: nn.Module) -> int:
    """Side of the patches ``model`` is given: its preprocessing's ``input_size``, else PCam's (a model that does
    not say)."""
    preprocessing = getattr(model, "preprocessing", None)
    return getattr(preprocessing, "input_size", PATCH_SIZE)


def token_grid(model: nn.Module, *, size: int | None = None) -> TokenGrid | None:
    """The token grid of a Vision Transformer in ``model`` on a ``size`` x ``size`` patch (default: the patches
    it is given, :func:`patch_side`): the output grid of its patch embedding's convolution in one forward pass of
    a zero patch (after any resize the model does), so a model that adapts its grid to the input is read as it
    runs; ``None`` without a patch embedding."""
    size = size or patch_side(model)
    found = patch_embedding(model)
    if found is None:
        return None
    found_grids = _GRIDS.setdefault(model, {})
    if size not in found_grids:
        convolution, prefix = found
        grids = []
        handle = convolution.register_forward_hook(lambda _m, _i, output: grids.append(tuple(output.shape[-2:])))
        try:
            _probe(model, size)
        finally:
            handle.remove()
        found_grids[size] = TokenGrid(prefix, *grids[-1])
    return found_grids[size]


def _transformer_cam_layers(model: nn.Module) -> list[str | None]:
    """The first normalisation layer of each transformer block (a module whose children include an attention
    layer), in module order (``None`` for a block without one); none without a patch embedding."""
    if patch_embedding(model) is None:
        return []
    layers = []
    for name, module in model.named_modules():
        if is_transformer_block(module):
            norms = [child_name for child_name, child in module.named_children()
                     if isinstance(child, (nn.LayerNorm, nn.GroupNorm)) or type(child).__name__.endswith("Norm")]
            layers.append(f"{name}.{norms[0]}" if norms else None)
    return layers


def _transformer_cam_layer(model: nn.Module) -> str | None:
    """The first normalisation layer of the last transformer block, or ``None``."""
    layers = _transformer_cam_layers(model)
    return layers[-1] if layers else None


def default_cam_layer(model: nn.Module, *, size: int | None = None) -> str | None:
    """The dotted name of ``model``'s last convolutional block by the module's rule, or ``None`` when it has none.

    Parameters
    ----------
    model : classifier taking (N, 3, size, size); left as it was (mode, no hooks, no gradients).
    size : side of the zero patch of the forward pass (default: the patches it is given, :func:`patch_side`).
    """
    size = size or patch_side(model)
    found = _FOUND.setdefault(model, {})
    if size not in found:
        found[size] = _find_cam_layer(model, size)
    return found[size]


def _find_cam_layer(model: nn.Module, size: int) -> str | None:
    if is_transformer(model):
        return _transformer_cam_layer(model)
    blocks = _map_blocks(model, size)
    return blocks[-1][0] if blocks else None


def _map_blocks(model: nn.Module, size: int) -> list[tuple[str, tuple[int, int]]]:
    """(dotted name, (H, W) of its map) of every block of ``model``'s trunk, in the order they last ran.

    The trunk's parameterised children that return a multi-cell map, each an ``nn.Sequential`` container of
    blocks (:func:`_holds_blocks`) replaced by its own such children in turn; the rest are blocks.
    """
    outputs = _map_outputs(model, size)

    def blocks(prefix: str, module: nn.Module) -> list[tuple[str, tuple[int, int]]]:
        found = []
        for child_name, child in _map_children(module, outputs):
            name = f"{prefix}{child_name}"
            found += blocks(f"{name}.", child) if _holds_blocks(child, outputs) else [(name, outputs[child][1])]
        return found

    return blocks(*feature_trunk(model))


def _map_children(module: nn.Module, outputs: dict) -> list[tuple[str, nn.Module]]:
    """``module``'s parameterised children that returned a multi-cell map, in the order they last returned it."""
    children = [(name, child) for name, child in module.named_children() if child in outputs and has_parameters(child)]
    return sorted(children, key=lambda pair: outputs[pair[1]][0])


def _holds_blocks(module: nn.Module, outputs: dict) -> bool:
    """Whether ``module`` is an ``nn.Sequential`` container of blocks: its last map-giving child is itself made of
    layers (a Sequential whose last such child is a single layer, conv + norm + activation, is a block)."""
    children = _map_children(module, outputs) if isinstance(module, nn.Sequential) else []
    return bool(children) and any(True for _ in children[-1][1].children())


#: How many layers Grad-CAM's per-layer stability table takes from a model (:func:`stability_cam_layers`).
TABLE_LAYERS = 3


def stability_cam_layers(model: nn.Module, *, size: int | None = None) -> tuple[str, ...]:
    """The layers of Grad-CAM's per-layer stability table, by the module's rule, in depth order (the last is the
    default CAM layer, :func:`default_cam_layer`); fewer than three when the model has fewer, none without a
    CAM layer.

    A CNN: the last block of each of the last three stages, a stage being a run of consecutive blocks whose maps
    have one size (``backbone.layer2.1``, ``backbone.layer3.1``, ``backbone.layer4.1`` for ResNet-18).  A
    transformer: the first normalisation of the last block of each third of its D transformer blocks (blocks
    ceil(k * D / 3) - 1, k = 1, 2, 3), so the last is the last block's.  The layers depend on the module tree and
    one forward pass of a zero patch, never on what a map scores.

    Parameters
    ----------
    model : classifier taking (N, 3, size, size); left as it was (mode, no hooks, no gradients).
    size : side of the zero patch of the forward pass (default: the patches it is given, :func:`patch_side`).
    """
    size = size or patch_side(model)
    if is_transformer(model):
        layers = _transformer_cam_layers(model)
        depth = len(layers)
        chosen = [layers[-(-part * depth // TABLE_LAYERS) - 1] for part in range(1, TABLE_LAYERS + 1) if depth]
        return tuple(layer for layer in dict.fromkeys(chosen) if layer is not None)
    last_of_stage: dict[int, str] = {}
    stage, previous = -1, None
    for name, map_size in _map_blocks(model, size):
        if map_size != previous:
            stage, previous = stage + 1, map_size
        last_of_stage[stage] = name
    return tuple(last_of_stage.values())[-TABLE_LAYERS:]


def cam_refusal(model: nn.Module, method: str) -> str | None:
    """One line saying why ``method`` (a CAM) cannot run on ``model``, or ``None`` when it can."""
    if is_transformer(model) and patch_embedding(model) is None:
        return (f"{method} needs a feature map; this model has attention layers (a transformer) and no patch "
                "embedding reportgen reads its token grid from (timm's patch_embed.proj or torchvision's "
                "conv_proj); choose other methods with --methods")
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
