"""Backbone features for the head recipe, computed once and cached on disk.

With the backbone frozen and in eval mode (no augmentation, fixed BatchNorm
statistics), the 512-d average-pooled features of a patch never change, so
training the 2-class head needs one forward pass over the data and then
seconds per epoch. Features are keyed by the backbone's weights, its
preprocessing, the data fingerprint, the split and the exact subset.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from reportgen.inference import autocast_context, model_device
from reportgen.model.checkpoint import state_dict_sha256
from reportgen.model.network import PCamClassifier

logger = logging.getLogger(__name__)

FEATURE_DIM = 512


def features_key(
    model: PCamClassifier,
    *,
    data_fingerprint: str,
    split_name: str,
    indices: np.ndarray | None,
) -> str:
    """Hex key naming one feature cache file."""
    digest = hashlib.sha256()
    digest.update(state_dict_sha256(model.backbone.state_dict(), exclude_prefix="fc.").encode())
    digest.update(repr(sorted(model.preprocessing.to_dict().items())).encode())
    digest.update(f"|{data_fingerprint}|{split_name}|".encode())
    digest.update(b"all" if indices is None else np.asarray(indices, dtype=np.int64).tobytes())
    return digest.hexdigest()[:24]


def extract_features(
    model: PCamClassifier,
    split,
    *,
    indices: np.ndarray | None = None,
    batch_size: int = 256,
    precision: str = "fp32",
    channels_last: bool = True,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Average-pooled backbone features of a split, in eval mode.

    Returns
    -------
    features : (n, 512) float32 on the CPU.
    labels : (n,) int64.
    """
    from reportgen.data.pcam import as_float_tensor

    device = model_device(model)
    backbone = model.backbone
    head, backbone.fc = backbone.fc, torch.nn.Identity()
    was_training = model.training
    model.eval()
    features, labels = [], []
    try:
        with torch.inference_mode(), autocast_context(device, precision):
            for batch in split.iter_batches(batch_size, indices=indices, shuffle=False, progress=progress):
                images = as_float_tensor(batch.images).to(device)
                if channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
                features.append(model(images).float().cpu())
                labels.append(torch.as_tensor(np.asarray(batch.labels), dtype=torch.int64))
    finally:
        backbone.fc = head
        model.train(was_training)
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
    batch_size: int = 256,
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
    path = None
    if cache_dir is not None:
        key = features_key(model, data_fingerprint=data_fingerprint, split_name=split_name, indices=indices)
        path = Path(cache_dir) / "features" / f"{key}.pt"
        if path.is_file():
            try:
                stored = torch.load(path, map_location="cpu", weights_only=True)
                logger.info("backbone features for %s from cache %s", split_name, path)
                return stored["features"], stored["labels"], True
            except Exception as error:  # a damaged cache entry is recomputed, never fatal
                logger.warning("ignoring unreadable feature cache %s (%s)", path, error)
    features, labels = extract_features(
        model,
        split,
        indices=indices,
        batch_size=batch_size,
        precision=precision,
        channels_last=channels_last,
        progress=progress,
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(suffix=".tmp", dir=path.parent)
        os.close(handle)
        try:
            torch.save({"features": features, "labels": labels}, temporary)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    return features, labels, False
