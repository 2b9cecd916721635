"""Writers of small PCam-layout files (chunked, gzip-compressed) for the data tests."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import h5py
import numpy as np

X_NAME = "camelyonpatch_level_2_split_{split}_x.h5"
Y_NAME = "camelyonpatch_level_2_split_{split}_y.h5"


def write_split(
    directory: Path,
    split: str = "valid",
    *,
    n: int = 64,
    seed: int = 0,
    labels: np.ndarray | None = None,
    x_shape: tuple[int, ...] | None = None,
    x_dtype=np.uint8,
    y_shape: tuple[int, ...] | None = None,
    mask_shape: tuple[int, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Write ``x``/``y`` files like the originals; returns (images, labels) as written.

    Each image is filled with its own index (mod 256) in channel 0, so a test
    can tell which patch it got back.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x_shape = x_shape or (n, 96, 96, 3)
    images = rng.integers(0, 256, size=x_shape).astype(x_dtype)
    if x_shape[1:] == (96, 96, 3):
        images[..., 0] = (np.arange(x_shape[0]) % 256)[:, None, None]
    labels = rng.integers(0, 2, size=n).astype(np.uint8) if labels is None else np.asarray(labels, dtype=np.uint8)
    y_shape = y_shape or (len(labels), 1, 1, 1)
    with h5py.File(directory / X_NAME.format(split=split), "w") as handle:
        handle.create_dataset("x", data=images, chunks=(8,) + x_shape[1:] if x_shape[0] else None, compression="gzip")
        if mask_shape is not None:
            handle.create_dataset("mask", data=np.zeros(mask_shape, np.uint8), compression="gzip")
    with h5py.File(directory / Y_NAME.format(split=split), "w") as handle:
        handle.create_dataset("y", data=labels.reshape(y_shape), chunks=True, compression="gzip")
    return images, labels


def gzip_file(path: Path, *, remove: bool = True) -> Path:
    """Compress ``path`` to ``path.gz`` like the PCam download."""
    target = path.with_name(path.name + ".gz")
    with open(path, "rb") as source, gzip.open(target, "wb") as out:
        shutil.copyfileobj(source, out)
    if remove:
        path.unlink()
    return target
