"""The pipeline's data and model steps: open the data, obtain the model, predict the split."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from reportgen.cache import ArrayCache, cache_key
from reportgen.config import BuildConfig
from reportgen.data.pcam import PCamDataset, ensure_demo_data, open_pcam
from reportgen.model.checkpoint import LoadedModel, load_checkpoint
from reportgen.model.evaluate import classification_metrics, predict_evaluation_set
from reportgen.model.network import parse_preprocessing

logger = logging.getLogger(__name__)

#: Patches read to estimate the data set's mean colour (the ``mean`` substrate).
MEAN_COLOUR_PATCHES = 2048


def open_data(config: BuildConfig, cache_root: Path) -> PCamDataset:
    """The user's PCam directory, or the embedded synthetic set (generated on first use)."""
    needs_training = config.checkpoint is None
    splits = ("train", config.split) if needs_training else (config.split,)
    if config.data_dir:
        return open_pcam(config.data_dir, splits=splits, cache_dir=cache_root / "pcam-unzipped")
    return open_pcam(ensure_demo_data(cache_root), splits=splits)


def obtain_model(config: BuildConfig, data: PCamDataset, *, cache_root: Path, device: torch.device,
                 progress: bool) -> LoadedModel:
    """Load ``--checkpoint``, or train (reusing a cached checkpoint for the same data and settings)."""
    if config.checkpoint:
        preprocessing = parse_preprocessing(config.preprocessing) if config.preprocessing else None
        return load_checkpoint(config.checkpoint, preprocessing=preprocessing, device=device)
    from reportgen.model.settings import demo_train_settings
    from reportgen.model.train import train_or_load

    # The recipe picks its own defaults: the full recipe's demo epoch, or the
    # head recipe's 5 epochs on a stratified 10 % (the notebook's text).
    settings = demo_train_settings(config.recipe, weights=config.weights, seed=config.seed, epochs=config.epochs,
                                   train_fraction=config.train_fraction)
    return train_or_load(data, settings, cache_dir=cache_root, device=device, progress=progress)


def predict_split_with_limit(model: torch.nn.Module, split, *, limit: int | None, batch_size: int,
                             progress: bool, cache: ArrayCache, cache_context: dict
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Predict the split once (or ``limit`` evenly spaced patches) and compute the model-card metrics.

    The predictions are cached by checkpoint hash, data fingerprint, split and
    limit, so regenerating a report does not re-run the whole split.

    Returns
    -------
    indices : (n,) int64 positions in the split that were predicted.
    probabilities : (n, 2) float32 softmax outputs.
    labels : (n,) int64.
    evaluation : :func:`reportgen.model.evaluate.classification_metrics` of those predictions.
    """
    key = cache_key(kind="split-predictions", limit=limit, **cache_context)
    stored = cache.get(key)
    if stored is not None and {"indices", "probabilities", "labels"} <= stored.keys():
        indices, probabilities, labels = stored["indices"], stored["probabilities"], stored["labels"]
    else:
        indices, probabilities, labels = predict_evaluation_set(model, split, limit=limit, batch_size=batch_size,
                                                                progress=progress)
        cache.put(key, {"indices": indices, "probabilities": probabilities, "labels": labels})
    evaluation = classification_metrics(probabilities, labels)
    evaluation["limit"] = limit
    return indices, probabilities, labels, evaluation


def dataset_mean_colour(data: PCamDataset, split_name: str, *, cache: ArrayCache | None = None
                        ) -> tuple[float, float, float]:
    """Per-channel mean colour in [0, 1] of the training split (the explained split if absent).

    Read from the first :data:`MEAN_COLOUR_PATCHES` patches (one contiguous read,
    about a second of decompression), so the result is cached by the data
    fingerprint, the split read and the patch count.  A cached entry that is not
    three finite values in [0, 1] is recomputed, never trusted.

    Returns
    -------
    (r, g, b) floats in [0, 1].
    """
    source = "train" if data.splits.get("train") else split_name
    split = data.split(source)
    count = min(len(split), MEAN_COLOUR_PATCHES)
    key = cache_key(kind="dataset-mean-colour", data=data.fingerprint, split=source, patches=count)
    stored = cache.get(key) if cache is not None else None
    mean = stored.get("mean") if stored is not None else None
    if mean is not None and mean.shape == (3,) and mean.dtype == np.float64 and bool(
            np.all(np.isfinite(mean)) and np.all((mean >= 0) & (mean <= 1))):
        return tuple(float(v) for v in mean)
    images = split.read(np.arange(count)).images
    mean = images.reshape(-1, 3).mean(axis=0) / 255.0
    if cache is not None:
        cache.put(key, {"mean": np.asarray(mean, dtype=np.float64)})
    return tuple(float(v) for v in mean)
