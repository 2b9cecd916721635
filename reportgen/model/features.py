"""Backbone features for the head recipe, computed once and cached on disk.

With the backbone frozen and in eval mode (no augmentation, fixed BatchNorm
statistics), the 512-d average-pooled features of a patch never change, so
training the 2-class head needs one forward pass over the data and then
seconds per epoch. Features are keyed by the backbone's weights, its
preprocessing, the data fingerprint, the split and the exact subset.

That one pass is the whole cost of the head recipe on a CPU, so it runs a
gradient-free copy of the backbone with every BatchNorm folded into the
convolution before it (Ioffe & Szegedy, ICML 2015: in eval mode BN is a fixed
per-channel affine map, so ``bn(conv(x)) = conv'(x)`` with rescaled weights and
a bias), in channels_last, while a reader thread decodes the next batch.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import logging
import os
import queue
import tempfile
import threading
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from reportgen.cache import entry_lock
from reportgen.inference import autocast_context, model_device
from reportgen.model.checkpoint import state_dict_sha256
from reportgen.model.network import PCamClassifier

logger = logging.getLogger(__name__)

FEATURE_DIM = 512

#: Part of the cache key: features computed by an older extractor differ in the
#: last float bits (BN folding), and a cache hit must give the same head as a miss.
FEATURES_VERSION = 2

#: Patches per feature forward pass. On the 2-core AVX2 development CPU 64-128
#: ran 10-25 % faster than 256 (activations of a 256 batch outgrow the caches).
FEATURE_BATCH_SIZE = 128


def features_key(
    model: PCamClassifier,
    *,
    data_fingerprint: str,
    split_name: str,
    indices: np.ndarray | None,
) -> str:
    """Hex key naming one feature cache file."""
    digest = hashlib.sha256(f"features-v{FEATURES_VERSION}|".encode())
    digest.update(state_dict_sha256(model.backbone.state_dict(), exclude_prefix="fc.").encode())
    digest.update(repr(sorted(model.preprocessing.to_dict().items())).encode())
    digest.update(f"|{data_fingerprint}|{split_name}|".encode())
    digest.update(b"all" if indices is None else np.asarray(indices, dtype=np.int64).tobytes())
    return digest.hexdigest()[:24]


def fold_batchnorm(backbone: nn.Module) -> nn.Module:
    """Eval-mode copy of a torchvision ResNet with each BatchNorm folded into its conv.

    Parameters
    ----------
    backbone : torchvision ``ResNet`` (BasicBlock or Bottleneck); left unchanged.

    Returns
    -------
    A copy in eval mode whose outputs equal ``backbone.eval()``'s up to float
    rounding (about 1e-6 relative), with ``fc`` replaced by ``Identity`` so it
    returns the (N, 512) average-pooled features.
    """
    folded = copy.deepcopy(backbone).eval()
    folded.fc = nn.Identity()
    folded.conv1, folded.bn1 = fuse_conv_bn_eval(folded.conv1, folded.bn1), nn.Identity()
    for block in itertools.chain(folded.layer1, folded.layer2, folded.layer3, folded.layer4):
        for number in (1, 2, 3):  # Bottleneck blocks have a third conv/bn pair
            conv, norm = getattr(block, f"conv{number}", None), getattr(block, f"bn{number}", None)
            if conv is not None and norm is not None:
                setattr(block, f"conv{number}", fuse_conv_bn_eval(conv, norm))
                setattr(block, f"bn{number}", nn.Identity())
        if block.downsample is not None:
            block.downsample = nn.Sequential(fuse_conv_bn_eval(block.downsample[0], block.downsample[1]))
    for parameter in folded.parameters():
        parameter.requires_grad_(False)
    return folded


class _ReaderFailed:
    """Carries an exception from the reader thread to the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()


def _prefetched(batches, prepare, *, depth: int = 2):
    """Yield ``prepare(batch)`` for each batch, computed ``depth`` batches ahead in a thread.

    Reading and decoding the next batch (HDF5 gzip, uint8 -> float) then
    overlaps the forward pass, which releases the GIL inside its kernels.
    Order is kept; an exception in the reader is raised here; stopping early
    (an error or Ctrl-C in the consumer) stops the reader.
    """
    pending: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item) -> bool:
        while not stop.is_set():
            try:
                pending.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in batches:
                if not offer(prepare(batch)):
                    return
        except BaseException as error:  # handed to the consumer, which re-raises it
            offer(_ReaderFailed(error))
            return
        offer(_DONE)

    reader = threading.Thread(target=read, name="reportgen-feature-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = pending.get()
            if item is _DONE:
                return
            if isinstance(item, _ReaderFailed):
                raise item.error
            yield item
    finally:
        stop.set()
        reader.join()


def extract_features(
    model: PCamClassifier,
    split,
    *,
    indices: np.ndarray | None = None,
    batch_size: int = FEATURE_BATCH_SIZE,
    precision: str = "fp32",
    channels_last: bool = True,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Average-pooled backbone features of a split, as the eval-mode model computes them.

    ``model.backbone.fc(features)`` equals ``model(images)`` up to float
    rounding, so validation predictions of a head come from these features
    without a second pass over the images. ``model`` is not modified.

    Parameters
    ----------
    model : classifier whose ``normalize`` and ``backbone`` (without ``fc``) are run.
    split : PCam split (``iter_batches``).
    indices : (n,) int positions to compute, in increasing order; default ``None``: all.
    batch_size : patches per forward pass (default :data:`FEATURE_BATCH_SIZE`).
    precision : "fp32" (default) or "bf16" autocast.
    channels_last : NHWC memory format (default True).
    progress : show a progress bar (default False).

    Returns
    -------
    features : (n, 512) float32 on the CPU.
    labels : (n,) int64.
    """
    from reportgen.data import as_float_tensor

    device = model_device(model)
    extractor = nn.Sequential(copy.deepcopy(model.normalize), fold_batchnorm(model.backbone)).eval()
    if channels_last:
        extractor = extractor.to(memory_format=torch.channels_last)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def prepare(batch):
        images = as_float_tensor(batch.images).contiguous(memory_format=memory_format)
        return images, torch.as_tensor(np.asarray(batch.labels), dtype=torch.int64)

    batches = split.iter_batches(batch_size, indices=indices, shuffle=False, progress=progress)
    features, labels = [], []
    with torch.inference_mode(), autocast_context(device, precision):
        for images, batch_labels in _prefetched(batches, prepare):
            features.append(extractor(images.to(device)).float().cpu())
            labels.append(batch_labels)
    if not features:
        return torch.zeros(0, FEATURE_DIM), torch.zeros(0, dtype=torch.int64)
    return torch.cat(features), torch.cat(labels)


def cached_features(
    model: PCamClassifier,
    split,
    *,
    data_fingerprint: str,
    split_name: str,
    indices: np.ndarray | None = None,
    cache_dir: Path | None = None,
    batch_size: int = FEATURE_BATCH_SIZE,
    precision: str = "fp32",
    channels_last: bool = True,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """:func:`extract_features`, reusing ``cache_dir/features/<key>.pt`` when present.

    Parameters
    ----------
    cache_dir : cache root; default ``None`` keeps features in memory only.

    Returns
    -------
    features : (n, 512) float32.
    labels : (n,) int64.
    hit : whether the features came from the cache.
    """
    def extract() -> tuple[torch.Tensor, torch.Tensor]:
        return extract_features(model, split, indices=indices, batch_size=batch_size, precision=precision,
                                channels_last=channels_last, progress=progress)

    if cache_dir is None:
        return (*extract(), False)
    key = features_key(model, data_fingerprint=data_fingerprint, split_name=split_name, indices=indices)
    path = Path(cache_dir) / "features" / f"{key}.pt"
    stored = _stored_features(path, split_name)
    if stored is not None:
        return (*stored, True)
    with entry_lock(path, what=f"computing the backbone features of {split_name}"):
        stored = _stored_features(path, split_name)  # computed by another run while this one waited
        if stored is not None:
            return (*stored, True)
        features, labels = extract()
        handle, temporary = tempfile.mkstemp(suffix=".tmp", dir=path.parent)
        os.close(handle)
        try:
            torch.save({"features": features, "labels": labels}, temporary)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    return features, labels, False


def _stored_features(path: Path, split_name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The features and labels cached at ``path``, or ``None`` when absent or unreadable."""
    if not path.is_file():
        return None
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
        logger.info("backbone features for %s from cache %s", split_name, path)
        return stored["features"], stored["labels"]
    except Exception as error:  # a damaged cache entry is recomputed, never fatal
        logger.warning("ignoring unreadable feature cache %s (%s)", path, error)
        return None
