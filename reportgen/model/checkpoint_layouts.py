"""Recognising the checkpoint layouts trainers write, and mapping them onto the architecture named.

Layouts (``info["format"]``):

``reportgen-v1``
    written by :func:`reportgen.model.checkpoint.save_checkpoint`; records
    the architecture, preprocessing, recipe, weights, training settings, history and metrics.
``notebook``
    the original notebook's dict (``epoch``, ``model_state_dict``,
    ``optimizer_state_dict``, ``val_acc``, ``loss``): a torchvision resnet18 with
    ``fc = Linear(512, 2)`` trained on [0, 1] input without normalisation.
``lightning``
    a PyTorch Lightning ``.ckpt``: ``state_dict`` (keys under the
    LightningModule's attribute, e.g. ``model.``), ``hyper_parameters``,
    ``epoch``, ``global_step``, optimizer and callback states.
``state_dict``
    a state dict of the architecture (``--arch``, default resnet18), bare or as ``{"state_dict": ...}``
    (``format`` then says so), its keys optionally under one prefix: the
    ``module.`` of ``nn.DataParallel``/DDP, or a wrapper's attribute.

A state dict is accepted under a prefix only when the mapping is unambiguous:
every key sits under that one prefix and what is left is exactly a state dict of
the architecture (or a reportgen classifier's); anything else is refused with a
line saying what was found and what was expected.  Every layout applies to every
architecture of :mod:`reportgen.model.architectures`; the reference key set is
the architecture's own.  A ``.safetensors`` file is a bare state dict.
"""

from __future__ import annotations

import torch

from reportgen.errors import CheckpointError, ConfigError
from reportgen.model.architectures import DEFAULT_ARCH, check_arch, is_state_dict_of

FORMAT = "reportgen-v1"
FORMATS = (FORMAT, "notebook", "lightning", "state_dict")

_NOTEBOOK_KEYS = {"model_state_dict"}
#: Keys PyTorch Lightning writes beside ``state_dict`` (any one of them identifies the layout).
_LIGHTNING_KEYS = {"pytorch-lightning_version", "hyper_parameters", "global_step", "optimizer_states",
                   "lr_schedulers", "callbacks", "loops"}
# A PCamClassifier state dict saved directly: backbone weights plus the normalisation buffers.
_CLASSIFIER_PREFIX = "backbone."
_NORMALISE_KEYS = {"normalize.mean", "normalize.std"}


def _is_classifier(keys: set[str], arch: str) -> bool:
    """Whether ``keys`` are a reportgen classifier's: an ``arch`` under ``backbone.`` and its normalisation."""
    body = {key[len(_CLASSIFIER_PREFIX):] for key in keys if key.startswith(_CLASSIFIER_PREFIX)}
    return is_state_dict_of(body, arch) and keys - {_CLASSIFIER_PREFIX + key for key in body} <= _NORMALISE_KEYS


def _prefixes(keys: list[str]) -> list[str]:
    """Every dotted prefix all ``keys`` share, shortest first ("" included)."""
    parts = keys[0].split(".")[:-1]
    candidates = [""] + [".".join(parts[: n + 1]) + "." for n in range(len(parts))]
    return [prefix for prefix in candidates if all(key.startswith(prefix) for key in keys)]


def _network_prefix(keys: list[str], arch: str) -> str | None:
    """The shortest prefix shared by all ``keys`` under which they are an ``arch`` or classifier, or ``None``."""
    for prefix in _prefixes(keys):
        stripped = {key[len(prefix):] for key in keys}
        if is_state_dict_of(stripped, arch) or _is_classifier(stripped, arch):
            return prefix
    return None


def resolve_prefix(state_dict: dict, path, arch: str = DEFAULT_ARCH) -> tuple[dict, str]:
    """``state_dict`` with the one prefix removed under which it is an ``arch`` (or classifier) state dict.

    Returns
    -------
    (state dict, prefix) : the prefix is ``""`` when the keys needed none.  A
    dict that is no ``arch`` under any shared prefix comes back unchanged
    (with ``""``), so the architecture check names what is wrong with it.

    Raises
    ------
    CheckpointError
        When the keys hold more than one network (e.g. ``model.`` and
        ``ema_model.``), so which one to audit is ambiguous.
    """
    keys = [str(key) for key in state_dict]
    if not keys:
        return dict(state_dict), ""
    prefix = _network_prefix(keys, arch)
    if prefix is not None:
        return {key[len(prefix):]: value for key, value in state_dict.items()}, prefix
    groups = sorted({key.split(".", 1)[0] + "." for key in keys if "." in key})
    networks = [group for group in groups
                if _network_prefix([key for key in keys if key.startswith(group)], arch) is not None]
    if networks:
        others = [group for group in groups if group not in networks]
        raise CheckpointError(
            f"{path}: ambiguous checkpoint: a {arch} under {', '.join(repr(g) for g in networks)}"
            f"{' beside other keys under ' + ', '.join(repr(g) for g in others[:4]) if others else ''}; "
            f"expected one {arch} state dict, optionally under one prefix such as 'module.' or 'model.'; "
            "save the network to audit on its own (torch.save(model.state_dict(), path))")
    return dict(state_dict), ""


def split_classifier_state_dict(state_dict: dict):
    """A classifier state dict -> (backbone state dict, its (mean, std) or ``None``); others pass through."""
    if not any(str(key).startswith(_CLASSIFIER_PREFIX) for key in state_dict):
        return state_dict, None
    backbone = {key[len(_CLASSIFIER_PREFIX):]: value for key, value in state_dict.items()
                if key.startswith(_CLASSIFIER_PREFIX)}
    normalisation = None
    if _NORMALISE_KEYS <= set(state_dict):
        normalisation = (tuple(float(v) for v in state_dict["normalize.mean"].flatten()),
                         tuple(float(v) for v in state_dict["normalize.std"].flatten()))
    return backbone, normalisation


def _tensor_dict(value) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(v, torch.Tensor) for v in value.values())


def _plain(value: object) -> object:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return value


def _foreign(state_dict: dict, path, arch: str, fmt: str, **info) -> tuple[dict, dict, tuple | None]:
    """A state dict from another trainer -> (backbone, info with format and prefix, stored normalisation)."""
    state_dict, prefix = resolve_prefix(state_dict, path, arch)
    backbone, normalisation = split_classifier_state_dict(state_dict)
    return backbone, {"format": fmt, "architecture": arch, "key_prefix": prefix, "recipe": None, "weights": None, "training": None,
                      "evaluation": None, "epoch": None, **info}, normalisation


def interpret(raw: object, path, arch: str | None = None) -> tuple[dict, dict, dict | tuple | None]:
    """A loaded checkpoint object -> (backbone state dict, info, stored preprocessing).

    ``arch`` is the architecture named (``--arch``); ``None`` means the one a
    reportgen checkpoint records, else :data:`DEFAULT_ARCH`.  ``info["architecture"]``
    says which one the state dict is checked against.  A reportgen checkpoint
    that records another architecture than ``arch`` is refused.

    The stored preprocessing is the reportgen checkpoint's dict, ``"identity"``
    for notebook files, a ``(mean, std)`` pair recorded in a classifier state
    dict, or ``None`` when unknown.
    """
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: holds a {type(raw).__name__}, not a checkpoint dict; save model.state_dict()")
    if raw.get("format") == FORMAT:
        recorded = raw.get("architecture")
        if not isinstance(recorded, str):
            raise CheckpointError(f"{path}: reportgen checkpoint without an architecture; save it again")
        if arch is not None and arch != recorded:
            raise ConfigError(f"--arch {arch} conflicts with {path}, a reportgen checkpoint of {recorded}; "
                              "drop --arch (the checkpoint records its architecture)")
        try:
            check_arch(recorded)
        except ConfigError as error:
            raise CheckpointError(f"{path}: records architecture {recorded!r}, which cannot be built here ({error})"
                                  ) from None
        if not isinstance(raw.get("state_dict"), dict) or not isinstance(raw.get("preprocessing"), dict):
            raise CheckpointError(f"{path}: reportgen checkpoint without state_dict or preprocessing; save it again")
        info = {key: raw.get(key) for key in ("recipe", "weights", "training", "evaluation", "epoch",
                                              "data_fingerprint", "reportgen_version")}
        return raw["state_dict"], {"format": FORMAT, "architecture": recorded, "history": raw.get("history", []),
                                   **info}, raw["preprocessing"]
    arch = arch or DEFAULT_ARCH
    if _NOTEBOOK_KEYS <= set(raw):
        info = {
            "format": "notebook",
            "architecture": arch,
            # The notebook's code trained every layer from random weights (docs/metrics.md#the-notebooks-two-recipes).
            "recipe": "full",
            "weights": "none",
            "training": {key: _plain(raw[key]) for key in ("epoch", "loss", "val_acc") if key in raw},
            "evaluation": None,
            "epoch": _plain(raw.get("epoch")),
        }
        return raw["model_state_dict"], info, "identity"
    if _tensor_dict(raw.get("state_dict")) and _LIGHTNING_KEYS & set(raw):
        return _foreign(raw["state_dict"], path, arch, "lightning", epoch=_plain(raw.get("epoch")),
                        lightning_version=raw.get("pytorch-lightning_version"))
    if _tensor_dict(raw.get("state_dict")):
        return _foreign(raw["state_dict"], path, arch, "state_dict", wrapped_in="state_dict")
    if _tensor_dict(raw):
        return _foreign(raw, path, arch, "state_dict")
    keys = ", ".join(sorted(str(key) for key in raw)[:6])
    raise CheckpointError(
        f"{path}: unrecognised checkpoint dict (keys: {keys or 'none'}); expected a reportgen checkpoint, the "
        f"notebook's dict with 'model_state_dict', a PyTorch Lightning .ckpt, or a {arch} state dict "
        "(bare, under 'state_dict', or with one prefix such as 'module.')")
