"""Training settings: one frozen record, validated once, hashed for the cache."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import asdict, dataclass

# Both tuples are defined once, beside the code that implements them (imported here through config). RECIPES:
# ``full``, every layer trains (the notebook's code); ``head``, the backbone is
# frozen and only the 2-class fc trains, on cached features (the notebook's
# text). Each name is a recipe object registered in reportgen.model.recipes.
from reportgen.config import PRECISIONS, RECIPES
from reportgen.data.files import PATCH_SIZE
from reportgen.errors import ConfigError
from reportgen.model.architectures import DEFAULT_ARCH, check_arch
from reportgen.model.network import NAMED_PREPROCESSING, Preprocessing, check_input_side, parse_preprocessing


@dataclass(frozen=True)
class TrainSettings:
    """How a classifier is trained. Defaults follow the notebook where it had one.

    Attributes
    ----------
    recipe : "full" (default) or "head".
    weights : initial weights: "none" (default, random), "imagenet" or a path
        to a torchvision resnet18 state dict.
    epochs : maximum number of epochs (default 5, as in the notebook).
    batch_size : training batch (default 64).
    lr : Adam learning rate (default 1e-3).
    patience : stop after this many epochs without a better validation
        accuracy (default 3).
    train_fraction : stratified share of the training split used (default 1.0;
        the notebook's text says 0.1).
    seed : seeds initialisation, shuffling, subset and augmentation (default 0).
    augment : flip, rotation <= 10 degrees, colour jitter (0.2, 0.2, 0.2) at
        p = 0.5 (default True; not used by the head recipe, whose features are
        computed once without augmentation).
    precision : "fp32" (default) or "bf16" autocast for forward passes.
    channels_last : NHWC memory format for model and batches (default True).
    max_train_seconds : safety cap on training time; the epoch in progress
        stops, is validated, and training ends (default ``None``: no cap).
    eval_limit : validation patches per epoch, evenly spaced (default ``None``: all).
    eval_batch_size : batch of validation forward passes (default 256).
    preprocessing : normalisation the model owns: "auto" (default: ImageNet
        statistics for pretrained or file weights, identity for random weights
        like the notebook), "identity", "imagenet" or "M,M,M:S,S,S".
    bn_recalibration : full recipe: after each epoch, re-estimate the BatchNorm
        running statistics on this many un-augmented training patches before
        validating (default 1024; 0 keeps the statistics gathered on augmented
        batches, as the notebook did). See :mod:`reportgen.model.batchnorm`.
    arch : the architecture trained (:mod:`reportgen.model.architectures`; default resnet18).  Another
        architecture trains with the full recipe from random weights.
    input_size : the side the network takes; the model resizes each patch to it inside its module
        (default ``None``: the patch's own size).
    """

    recipe: str = "full"
    weights: str = "none"
    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    patience: int = 3
    train_fraction: float = 1.0
    seed: int = 0
    augment: bool = True
    precision: str = "fp32"
    channels_last: bool = True
    max_train_seconds: float | None = None
    eval_limit: int | None = None
    eval_batch_size: int = 256
    preprocessing: str = "auto"
    bn_recalibration: int = 1024
    arch: str = DEFAULT_ARCH
    input_size: int | None = None

    def __post_init__(self) -> None:
        if self.recipe not in RECIPES:
            raise ConfigError(f"recipe {self.recipe!r} is unknown; choose from: {', '.join(RECIPES)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision {self.precision!r} is unknown; choose from: {', '.join(PRECISIONS)}")
        for name in ("epochs", "batch_size", "patience", "eval_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"training setting {name}={value!r} must be a whole number >= 1")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"training setting lr={self.lr!r} must be a positive number")
        if not (0 < self.train_fraction <= 1):
            raise ConfigError(f"training setting train_fraction={self.train_fraction!r} must be in (0, 1]")
        if self.max_train_seconds is not None and not self.max_train_seconds > 0:
            raise ConfigError(
                f"training setting max_train_seconds={self.max_train_seconds!r} must be positive or None"
            )
        if self.eval_limit is not None and (not isinstance(self.eval_limit, int) or self.eval_limit < 1):
            raise ConfigError(f"training setting eval_limit={self.eval_limit!r} must be >= 1 or None")
        if self.preprocessing != "auto":
            parse_preprocessing(self.preprocessing)
        check_arch(self.arch)
        if self.arch != DEFAULT_ARCH and self.recipe != "full":
            raise ConfigError(f"recipe {self.recipe!r} trains the {DEFAULT_ARCH} head on cached features; train "
                              f"{self.arch} with --recipe full")
        if self.arch != DEFAULT_ARCH and self.weights != "none":
            raise ConfigError(f"--weights {self.weights} initialises a {DEFAULT_ARCH}; {self.arch} trains from random "
                              "weights (--weights none)")
        check_input_side(self.input_size, "training setting input_size")
        if not isinstance(self.bn_recalibration, int) or self.bn_recalibration < 0:
            raise ConfigError(
                f"training setting bn_recalibration={self.bn_recalibration!r} must be a whole number >= 0"
            )

    def resolved_preprocessing(self, patch_size: int = PATCH_SIZE) -> Preprocessing:
        """The :class:`Preprocessing` the trained model will own, for patches of ``patch_size`` pixels (the
        network takes ``input_size``, else the patches' own side)."""
        if self.preprocessing != "auto":
            normalisation = parse_preprocessing(self.preprocessing)
        else:
            # Pretrained backbones expect the statistics they were trained with; the
            # notebook trained from random weights on plain [0, 1] input.
            normalisation = NAMED_PREPROCESSING["identity" if self.weights == "none" else "imagenet"]
        return normalisation.for_patches(patch_size, self.input_size)

    def to_dict(self) -> dict:
        """Plain-typed copy, for checkpoints and report.json."""
        return asdict(self)

    def key(self) -> str:
        """Stable 16-hex-digit hash of every setting (a weights file by its content)."""
        from reportgen.model.weights import describe_weights

        values = self.to_dict()
        # Settings added after the first models were cached are hashed only when they differ from what those
        # models were, so a model trained before they existed is found again.
        for name, before in (("arch", DEFAULT_ARCH), ("input_size", None)):
            if values[name] == before:
                del values[name]
        values["weights"] = describe_weights(self.weights)
        values["preprocessing"] = self.resolved_preprocessing().to_dict()
        text = json.dumps(values, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


#: Settings that train the synthetic demo set to >= 0.95 validation accuracy in
#: about two and a half minutes on a 2-core CPU: one epoch over a stratified
#: 62.5 % of the training split (5,120 patches; measured on generator v6:
#: validation accuracy 0.965 after 131 s of training plus the BatchNorm
#: re-estimation on 1,024 patches).  Bounded by a number of images, not by time, so
#: the same seed gives the same model on any machine.  fp32, because bf16
#: autocast is emulated (about 10x slower) on CPUs without AVX-512 BF16 / AMX;
#: measure with benchmarks/bench_train.py.
DEMO_TRAIN_SETTINGS = TrainSettings(
    recipe="full",
    weights="none",
    epochs=1,
    batch_size=64,
    lr=1e-3,
    patience=3,
    train_fraction=0.625,
    precision="fp32",
    channels_last=True,
)

#: The head recipe as the notebook's text describes it (docs/metrics.md#the-notebooks-two-recipes): the 2-class
#: head on a frozen backbone, trained on a stratified 10 % of the training split
#: for the notebook's 5 epochs. Its cost is one forward pass over the patches it
#: uses (819 training + 1,024 validation on the demo data), so the share, not
#: the epochs, sets its run time; the other settings are the demo's.
DEMO_HEAD_TRAIN_SETTINGS = dataclasses.replace(DEMO_TRAIN_SETTINGS, recipe="head", epochs=5, train_fraction=0.1)

# The demo settings of each recipe name.
_DEMO_SETTINGS = {"full": DEMO_TRAIN_SETTINGS, "head": DEMO_HEAD_TRAIN_SETTINGS}

#: What the demo recipe changes for a Vision Transformer trained from random weights: a learning rate of the
#: order DeiT's linear rule gives for batches of 64 (5e-4 per 512 images: 6e-5; Touvron et al., ICML 2021)
#: instead of the CNNs' 1e-3, at which a transformer from scratch settles on one class, and three epochs, since
#: a transformer without a CNN's built-in locality needs more passes over the data to leave the one-class start.
TRANSFORMER_DEMO_TRAINING = {"lr": 1e-4, "epochs": 3}


def _is_transformer_arch(arch: str | None) -> bool:
    """Whether ``arch`` builds a network with attention layers (checked on the meta device: no weights, no work)."""
    if arch is None or arch == DEFAULT_ARCH:
        return False
    import torch

    from reportgen.model.architectures import build_backbone
    from reportgen.model.feature_layers import is_transformer

    with torch.device("meta"):
        return is_transformer(build_backbone(arch))


def demo_train_settings(recipe: str = "full", **overrides) -> TrainSettings:
    """The demo settings of ``recipe`` with ``overrides`` applied.

    Parameters
    ----------
    recipe : "full" (default; :data:`DEMO_TRAIN_SETTINGS`) or "head"
        (:data:`DEMO_HEAD_TRAIN_SETTINGS`).
    overrides : :class:`TrainSettings` fields; a ``None`` value keeps the default. A transformer ``arch``
        trains with :data:`TRANSFORMER_DEMO_TRAINING` where the overrides do not say otherwise.

    Raises
    ------
    ConfigError
        For an unknown recipe or an invalid value.
    """
    if recipe not in RECIPES:
        raise ConfigError(f"recipe {recipe!r} is unknown; choose from: {', '.join(RECIPES)}")
    base = _DEMO_SETTINGS[recipe]
    if recipe == "full" and _is_transformer_arch(overrides.get("arch")):
        base = dataclasses.replace(base, **TRANSFORMER_DEMO_TRAINING)
    return dataclasses.replace(base, **{name: value for name, value in overrides.items() if value is not None})
