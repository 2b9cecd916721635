"""Initial weights for training: none, ImageNet, or a resnet18 state-dict file.

ImageNet weights come from torchvision's weights API
(``ResNet18_Weights.IMAGENET1K_V1``; He et al., "Deep Residual Learning for
Image Recognition", CVPR 2016). They are read from the torch hub cache
(``$TORCH_HOME/hub/checkpoints``, default ``~/.cache/torch/hub/checkpoints``)
when present. Otherwise one download is tried with a short connect timeout,
so a machine without network fails in seconds with one line rather than
hanging; the file is checked against the hash prefix in its name before it is
moved into the cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import torch
from torchvision.models import ResNet18_Weights

from reportgen.errors import CheckpointError, ConfigError
from reportgen.model.checkpoint import (
    check_resnet18_state_dict,
    file_sha256,
    safe_torch_load,
    strip_parallel_prefix,
)
from reportgen.model.network import CLASS_NAMES

logger = logging.getLogger(__name__)

WEIGHT_NAMES = ("none", "imagenet")
IMAGENET_WEIGHTS = ResNet18_Weights.IMAGENET1K_V1

#: Seconds to wait for the download server to answer before giving up.
DOWNLOAD_TIMEOUT_S = 10.0


def imagenet_cache_path() -> Path:
    """Where torchvision keeps the ImageNet resnet18 weights file."""
    filename = IMAGENET_WEIGHTS.url.rsplit("/", 1)[-1]
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def describe_weights(weights: str) -> str:
    """Stable description for cache keys: the name, or ``sha256:<hex>`` of a file."""
    if weights in WEIGHT_NAMES:
        return weights
    path = Path(weights)
    if not path.is_file():
        raise CheckpointError(
            f"--weights {weights!r}: no such file; give 'none', 'imagenet' or a resnet18 state-dict path"
        )
    return f"sha256:{file_sha256(path)}"


def _download_imagenet(url: str, destination: Path, *, timeout_s: float) -> None:
    """Fetch ``url`` to ``destination`` with a timeout; verify the name's hash prefix."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".partial", dir=destination.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as output, urllib.request.urlopen(url, timeout=timeout_s) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                output.write(chunk)
        expected = destination.stem.rsplit("-", 1)[-1]
        if not digest.hexdigest().startswith(expected):
            raise CheckpointError(
                f"{url}: downloaded file does not match its hash {expected}; try again or pass --weights PATH"
            )
        os.replace(temporary, destination)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def imagenet_state_dict(*, url: str | None = None, timeout_s: float = DOWNLOAD_TIMEOUT_S) -> dict:
    """ImageNet resnet18 weights (1000-class fc included), from the cache or one download.

    Parameters
    ----------
    url : download address; default torchvision's ``IMAGENET1K_V1`` URL.
    timeout_s : connect/read timeout of the download (default 10 s).

    Raises
    ------
    CheckpointError
        When the weights are not cached and cannot be fetched.
    """
    url = url or IMAGENET_WEIGHTS.url
    destination = imagenet_cache_path()
    if not destination.is_file():
        logger.info("ImageNet weights not in %s; downloading %s", destination.parent, url)
        try:
            _download_imagenet(url, destination, timeout_s=timeout_s)
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            reason = getattr(error, "reason", error)
            raise CheckpointError(
                f"--weights imagenet: {destination} is not cached and {url} cannot be fetched "
                f"({reason}); copy resnet18-f37072fd.pth into {destination.parent} (or set TORCH_HOME), "
                "or pass --weights PATH to a resnet18 state dict"
            ) from None
    return safe_torch_load(destination, what="ImageNet weights")


def initial_backbone_state(weights: str) -> dict | None:
    """Resnet18 state dict to start training from, or ``None`` for random weights.

    Parameters
    ----------
    weights : ``"none"`` (random initialisation), ``"imagenet"`` or the path of
        a torchvision resnet18 state dict, with or without ``fc`` (an ``fc``
        without exactly 2 outputs, such as ImageNet's 1000, is dropped and the
        head starts random).

    Raises
    ------
    CheckpointError, ConfigError
    """
    if weights == "none":
        return None
    if weights == "imagenet":
        state_dict = imagenet_state_dict()
        source = "imagenet"
    else:
        path = Path(weights)
        if not path.is_file():
            raise ConfigError(
                f"--weights {weights!r}: no such file; give 'none', 'imagenet' or a resnet18 state-dict path"
            )
        state_dict = safe_torch_load(path, what="weights file")
        source = str(path)
        if isinstance(state_dict, dict) and "model_state_dict" in state_dict:
            state_dict = state_dict["model_state_dict"]
        elif isinstance(state_dict, dict) and isinstance(state_dict.get("state_dict"), dict):
            state_dict = state_dict["state_dict"]
        if not isinstance(state_dict, dict):
            raise CheckpointError(f"{path}: not a state dict; save model.state_dict() of a resnet18")
    state_dict = strip_parallel_prefix(state_dict)
    fc = state_dict.get("fc.weight")
    if fc is not None and tuple(fc.shape)[0] != len(CLASS_NAMES):
        logger.info("%s: dropping its %d-class fc; the 2-class head starts random", source, fc.shape[0])
        state_dict = {key: value for key, value in state_dict.items() if not key.startswith("fc.")}
    return check_resnet18_state_dict(state_dict, path=source, allow_missing_fc=True)
