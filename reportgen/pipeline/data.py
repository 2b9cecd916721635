"""The build's data step: open the data, check the request against it, and the data set's mean colour."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reportgen.cache import ArrayCache
from reportgen.config import BuildConfig
from reportgen.data import PCamDataset, ensure_demo_data, open_pcam
from reportgen.errors import ConfigError
from reportgen.model.evaluate import evaluation_indices

#: Patches read to estimate the data set's mean colour (the ``mean`` substrate).
MEAN_COLOUR_PATCHES = 2048


def open_data(config: BuildConfig, cache_root: Path) -> PCamDataset:
    """The user's PCam directory or image folder, or the embedded synthetic set (generated on first use).

    Refuses, before any training or explaining, a request the split cannot
    meet (more patches to explain than the split or ``--eval-limit`` holds).
    """
    needs_training = config.checkpoint is None
    splits = ("train", config.split) if needs_training else (config.split,)
    if config.data_dir:
        data = open_pcam(config.data_dir, splits=splits, cache_dir=cache_root / "pcam-unzipped",
                         class_folders=config.class_folders)
    else:
        data = open_pcam(ensure_demo_data(cache_root), splits=splits)
    evaluated = evaluation_indices(len(data.split(config.split)), config.eval_limit)
    available = len(data.split(config.split)) if evaluated is None else len(evaluated)
    if config.images > available:
        raise ConfigError(f"--images {config.images} asks for more patches than the {config.split} split offers "
                          f"({available} evaluated); lower --images or raise --eval-limit")
    return data


def _valid_mean(entry: dict) -> bool:
    mean = entry["mean"]
    return (mean.shape == (3,) and mean.dtype == np.float64 and bool(np.all(np.isfinite(mean)))
            and bool(np.all((mean >= 0) & (mean <= 1))))


def dataset_mean_colour(data: PCamDataset, split_name: str, *, cache: ArrayCache | None = None
                        ) -> tuple[float, float, float]:
    """Per-channel mean colour in [0, 1] of the training split (the explained split if absent).

    Read from the first :data:`MEAN_COLOUR_PATCHES` patches (one contiguous
    read, about a second of decompression), cached by the data fingerprint,
    the split read and the patch count.

    Returns
    -------
    (r, g, b) floats in [0, 1].
    """
    source = "train" if data.splits.get("train") else split_name
    split = data.split(source)
    count = min(len(split), MEAN_COLOUR_PATCHES)

    def compute() -> dict[str, np.ndarray]:
        images = split.read(np.arange(count)).images
        return {"mean": np.asarray(images.reshape(-1, 3).mean(axis=0) / 255.0, dtype=np.float64)}

    if cache is None:
        entry = compute()
    else:
        key = cache.key(kind="dataset-mean-colour", data=data.fingerprint, split=source, patches=count)
        entry, _ = cache.memo(key, compute, _valid_mean)
    return tuple(float(v) for v in entry["mean"])
