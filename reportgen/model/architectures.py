"""The classifier architectures reportgen builds by name, and whether a state dict is one of them.

A name is a ``torchvision.models`` classification builder (``resnet18``, the
default; ``densenet121``, ``efficientnet_b0``, ``mobilenet_v3_small``...) or a
timm model as ``timm:<name>`` (``pip install 'reportgen[timm]'``).  Every
network is built with random weights (never downloaded) and a 2-class head.

Which keys form the head is not listed per family: they are the keys whose
shapes differ between the network built with 2 and with 3 classes
(:func:`head_keys`), so one rule finds ``fc.*`` of a ResNet, ``classifier.3.*``
of a MobileNetV3 or ``classifier.1.*`` (a 1x1 convolution) of a SqueezeNet.
Reference shapes come from networks built on the meta device: names and shapes
only, no memory and no initialisation cost.
"""

from __future__ import annotations

import difflib
from functools import lru_cache

import torch
from torch import nn

from reportgen.errors import CheckpointError, ConfigError

#: The architecture of the demo model, of training, and of a checkpoint that names none.
DEFAULT_ARCH = "resnet18"
#: Prefix of a timm model's name.
TIMM_PREFIX = "timm:"
#: Classes of the PCam head (0 normal, 1 tumour).
NUM_CLASSES = 2
_TIMM_MISSING = f"pip install 'reportgen[timm]' to use {TIMM_PREFIX}<name> architectures"
#: What a mismatch suggests.
_HINT = "pass --arch NAME for the architecture it was trained as"


def torchvision_names() -> list[str]:
    """Every torchvision classification builder's name, sorted."""
    import torchvision.models
    from torchvision.models import list_models

    return sorted(list_models(module=torchvision.models))


def _timm():
    try:
        import timm
    except ImportError:
        raise ConfigError(f"timm is not installed; {_TIMM_MISSING}") from None
    return timm


def _close(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=4, cutoff=0.6)
    return f"did you mean {', '.join(close)}?" if close else "see torchvision.models.list_models()"


def check_arch(name: str) -> str:
    """``name`` stripped, after checking it names a buildable architecture.

    Raises
    ------
    ConfigError
        An unknown torchvision name (with close names), a ``timm:`` name
        without timm installed, or a name timm does not know.
    """
    name = str(name).strip()
    if name.startswith(TIMM_PREFIX):
        timm, model = _timm(), name[len(TIMM_PREFIX):]
        if not timm.is_model(model):
            close = difflib.get_close_matches(model, timm.list_models(), n=4, cutoff=0.6)
            hint = f"did you mean {', '.join(TIMM_PREFIX + c for c in close)}?" if close else "see timm.list_models()"
            raise ConfigError(f"--arch {name!r}: timm has no model {model!r}; {hint}")
        return name
    names = torchvision_names()
    if name not in names:
        raise ConfigError(f"--arch {name!r} is not a torchvision classification architecture; {_close(name, names)} "
                          f"(a timm model is {TIMM_PREFIX}<name>)")
    return name


def build_backbone(name: str = DEFAULT_ARCH, num_classes: int = NUM_CLASSES) -> nn.Module:
    """A randomly initialised network ``name`` with a ``num_classes`` head; no weights are downloaded."""
    if name == DEFAULT_ARCH:
        from torchvision.models import resnet18

        # Built as it always was (1000-class head replaced), so a seed gives the same initial weights as before.
        network = resnet18(weights=None)
        network.fc = nn.Linear(512, num_classes)
        return network
    check_arch(name)
    if name.startswith(TIMM_PREFIX):
        return _timm().create_model(name[len(TIMM_PREFIX):], pretrained=False, num_classes=num_classes)
    from torchvision.models import get_model_builder

    return get_model_builder(name)(weights=None, num_classes=num_classes)


@lru_cache(maxsize=16)
def reference_shapes(name: str, num_classes: int = NUM_CLASSES) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every entry of the state dict of ``name`` with a ``num_classes`` head."""
    with torch.device("meta"):
        network = build_backbone(name, num_classes)
    return {key: tuple(tensor.shape) for key, tensor in network.state_dict().items()}


@lru_cache(maxsize=16)
def head_keys(name: str) -> frozenset[str]:
    """The state-dict keys of the classification head: those whose shape depends on the class count."""
    two, three = reference_shapes(name, NUM_CLASSES), reference_shapes(name, NUM_CLASSES + 1)
    return frozenset(key for key in two if two[key] != three.get(key))


def is_state_dict_of(keys: set[str], name: str) -> bool:
    """Whether ``keys`` are a state dict of ``name`` (its head and BatchNorm counters may be missing)."""
    reference = set(reference_shapes(name))
    required = {key for key in reference - head_keys(name) if not key.endswith("num_batches_tracked")}
    return required <= keys <= reference


def _some(keys: list[str], limit: int = 3) -> str:
    listed = ", ".join(repr(key) for key in keys[:limit])
    return listed + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def check_state_dict(state_dict: dict, *, arch: str, path, allow_missing_head: bool = False) -> dict:
    """Validate a state dict of ``arch`` with a 2-class head (no prefix); return it with BatchNorm counters filled.

    Parameters
    ----------
    state_dict : name -> tensor.
    arch : the architecture it must be (:func:`check_arch`).
    path : file named in error messages.
    allow_missing_head : accept a backbone without its head (initial weights); default False.

    Raises
    ------
    CheckpointError
        One line naming ``arch`` and a few of the unexpected or missing keys, or the first
        key whose shape differs; or naming the class count of a head with other than 2.
    """
    if not all(isinstance(value, torch.Tensor) for value in state_dict.values()):
        raise CheckpointError(f"{path}: the state dict holds non-tensor values; expected a {arch} state dict")
    reference, head = reference_shapes(arch), head_keys(arch)
    unexpected = sorted(set(state_dict) - set(reference))
    missing = sorted(key for key in reference
                     if key not in state_dict and not key.endswith("num_batches_tracked") and key not in head)
    if unexpected:
        lacks = f"; it lacks {_some(missing)}" if missing else ""
        raise CheckpointError(f"{path}: not a {arch} (it has {_some(unexpected)} that a {arch} lacks{lacks}); "
                              f"{_HINT}")
    for key, value in state_dict.items():
        shape = tuple(value.shape)
        if key in head and shape and len(shape) == len(reference[key]) and shape[1:] == reference[key][1:]:
            if shape[0] != NUM_CLASSES:
                raise CheckpointError(f"{path}: the head has {shape[0]} classes ({key} {shape}); reportgen needs a "
                                      f"{NUM_CLASSES}-class head (normal, tumour)")
        elif shape != reference[key]:
            raise CheckpointError(f"{path}: not a {arch} ({key!r} has shape {shape}, {arch} has {reference[key]}); "
                                  f"{_HINT}")
    if missing:
        raise CheckpointError(f"{path}: incomplete {arch} state dict (missing {_some(missing)}); save the whole "
                              f"model.state_dict(), or {_HINT}")
    absent_head = sorted(key for key in head if key not in state_dict)
    if absent_head and not allow_missing_head:
        raise CheckpointError(f"{path}: the state dict has no {arch} head ({_some(absent_head)}); save the whole model")
    for key, shape in reference.items():
        if key.endswith("num_batches_tracked") and key not in state_dict:
            state_dict[key] = torch.tensor(0, dtype=torch.long)
    return state_dict


def check_input_size(model: nn.Module, *, arch: str, size: int, resize_to: int | None = None) -> None:
    """Refuse a network that cannot classify a ``size`` x ``size`` patch into 2 logits (one forward pass);
    ``resize_to`` is the side the model resizes the patch to inside its module, named in the message."""
    parameter = next(model.parameters(), None)
    probe = torch.zeros(1, 3, size, size, device=parameter.device if parameter is not None else "cpu")
    try:
        with torch.no_grad():
            output = model(probe)
    except (RuntimeError, AssertionError, ValueError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        if resize_to is not None:
            raise ConfigError(f"--arch {arch}: the network does not take {resize_to}x{resize_to} input ({reason}); "
                              "pass the side it was built for with --input-size") from None
        raise ConfigError(f"--arch {arch}: the network does not take {size}x{size} patches ({reason}); "
                          "pass the side it takes with --input-size (the model then resizes each patch)") from None
    if tuple(getattr(output, "shape", ())) != (1, NUM_CLASSES):
        raise ConfigError(f"--arch {arch}: the network's output on one {size}x{size} patch is not "
                          f"{NUM_CLASSES} logits; use a plain classification architecture")
