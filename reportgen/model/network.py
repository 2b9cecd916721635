"""The classifier: a network (a torchvision ResNet-18 by default) that owns its preprocessing.

Every explainer and metric in reportgen works on RGB images in [0, 1]; the
normalisation the network was trained with lives inside the module
(:class:`Normalize`), so "black", "white" or "the data set's mean colour" mean
the same thing to every method (docs/metrics.md#one-preprocessing-owned-by-the-model).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from reportgen.model.architectures import DEFAULT_ARCH, build_backbone

CLASS_NAMES = ("normal", "tumour")

#: ImageNet statistics; the default normalisation of torchvision backbones.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """What the network does to a [0, 1] RGB image before the backbone.

    Attributes
    ----------
    mean, std : per-channel normalisation, ``(x - mean) / std``.
    input_size : side of the square patches the model is given (96 for PCam).
    resize_to : side the model resizes them to inside its module before the backbone, or ``None``.
    """

    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    input_size: int = 96
    resize_to: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def taking(self, side: int | None) -> Preprocessing:
        """The same normalisation for a network that takes ``side`` x ``side`` input: it resizes the patch to
        ``side`` inside its module, or not at all when ``side`` is the patch's own (``None`` keeps it as it is)."""
        return self.for_patches(self.input_size, side or self.network_side)

    @property
    def network_side(self) -> int:
        """The side the backbone takes: ``resize_to``, else the patch's own."""
        return self.resize_to or self.input_size

    def for_patches(self, side: int, network_side: int | None = None) -> Preprocessing:
        """The same normalisation for ``side`` x ``side`` patches given to a backbone that takes ``network_side``
        (default: the patches' own side): the model resizes them inside its module when the two differ."""
        takes = network_side or side
        return replace(self, input_size=int(side), resize_to=None if takes == side else int(takes))

    @classmethod
    def from_dict(cls, values: dict) -> Preprocessing:
        return cls(
            mean=tuple(float(v) for v in values["mean"]),
            std=tuple(float(v) for v in values["std"]),
            input_size=int(values.get("input_size", 96)),
            resize_to=None if values.get("resize_to") is None else int(values["resize_to"]),
        )


#: The input sides (pixels) a network may be given with ``--input-size``, smallest and largest.
INPUT_SIDES = (8, 4096)


def check_input_side(side, what: str) -> None:
    """Refuse an input side outside :data:`INPUT_SIDES` (or not a whole number), naming ``what`` was given."""
    low, high = INPUT_SIDES
    if side is not None and (not isinstance(side, int) or not low <= side <= high):
        from reportgen.errors import ConfigError

        raise ConfigError(f"{what} must be a side in pixels from {low} to {high}, got {side!r}")


#: The notebook trained on [0, 1] input without any normalisation.
IDENTITY_PREPROCESSING = Preprocessing(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


class Normalize(nn.Module):
    """``(x - mean) / std`` (and an optional resize) as a layer of the model."""

    def __init__(self, preprocessing: Preprocessing):
        super().__init__()
        self.resize_to = preprocessing.resize_to
        self.register_buffer("mean", torch.tensor(preprocessing.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(preprocessing.std).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.resize_to is not None:
            images = nn.functional.interpolate(
                images, size=(self.resize_to, self.resize_to), mode="bilinear", align_corners=False
            )
        return (images - self.mean) / self.std


class PCamClassifier(nn.Module):
    """A network with a 2-class head, taking RGB in [0, 1].

    Input ``(N, 3, 96, 96)`` float in [0, 1]; output ``(N, 2)`` logits
    (class 0 = normal, 1 = tumour).  ``backbone`` is the plain network ``arch``
    (:mod:`reportgen.model.architectures`): by default a torchvision
    ``resnet18`` whose ``fc`` is ``Linear(512, 2)``, so its state dict is the
    one the notebook saved, and Grad-CAM's default target layer is
    ``backbone.layer4[-1]``.
    """

    def __init__(self, preprocessing: Preprocessing = Preprocessing(), arch: str = DEFAULT_ARCH):
        super().__init__()
        self.preprocessing = preprocessing
        self.arch = arch
        self.normalize = Normalize(preprocessing)
        self.backbone = build_backbone(arch, len(CLASS_NAMES))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.normalize(images))


def build_model(preprocessing: Preprocessing = Preprocessing()) -> PCamClassifier:
    """A freshly initialised classifier, in eval mode."""
    return PCamClassifier(preprocessing).eval()


#: Names accepted by :func:`parse_preprocessing`, besides explicit numbers.
NAMED_PREPROCESSING = {"identity": IDENTITY_PREPROCESSING, "imagenet": Preprocessing()}


def parse_preprocessing(text: str) -> Preprocessing:
    """Parse the ``--preprocessing`` option.

    Parameters
    ----------
    text : ``"identity"`` (mean 0, std 1: the notebook's [0, 1] input),
        ``"imagenet"`` (torchvision's ImageNet statistics) or
        ``"MEAN,MEAN,MEAN:STD,STD,STD"`` (three numbers each, RGB order).

    Returns
    -------
    Preprocessing with ``input_size`` 96 and no internal resize.

    Raises
    ------
    ConfigError
        When the text is none of the above or a standard deviation is not positive.
    """
    from reportgen.errors import ConfigError

    cleaned = text.strip().lower()
    if cleaned in NAMED_PREPROCESSING:
        return NAMED_PREPROCESSING[cleaned]
    expected = (
        "expected 'identity', 'imagenet' or 'MEAN,MEAN,MEAN:STD,STD,STD' "
        "(e.g. 0.70,0.54,0.69:0.24,0.28,0.21)"
    )
    mean_text, separator, std_text = cleaned.partition(":")
    try:
        mean = tuple(float(value) for value in mean_text.split(","))
        std = tuple(float(value) for value in std_text.split(","))
    except ValueError:
        raise ConfigError(f"--preprocessing {text!r} is not understood; {expected}") from None
    if not separator or len(mean) != 3 or len(std) != 3:
        raise ConfigError(f"--preprocessing {text!r} needs three means and three stds; {expected}")
    if not all(math.isfinite(value) for value in mean + std):
        raise ConfigError(f"--preprocessing {text!r} contains a non-finite number; {expected}")
    if min(std) <= 0:
        raise ConfigError(f"--preprocessing {text!r} has a std <= 0; every std must be positive")
    return Preprocessing(mean=mean, std=std)
