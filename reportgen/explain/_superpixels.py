"""Quickshift superpixels shared by LIME and KernelSHAP, so both explain the same features."""

from __future__ import annotations

import numpy as np

#: The notebook's (and lime's default) quickshift parameters (Vedaldi & Soatto, 2008).
QUICKSHIFT_DEFAULTS = {"kernel_size": 4, "max_dist": 200, "ratio": 0.2}


def quickshift_segmenter(*, kernel_size: float, max_dist: float, ratio: float, seed: int):
    """lime's quickshift wrapper (a ``SegmentationAlgorithm``); ``seed`` seeds quickshift's tie-breaking noise."""
    # lime and scikit-image load only when superpixels are computed, not when the method registers.
    from lime.wrappers.scikit_image import SegmentationAlgorithm

    return SegmentationAlgorithm(
        "quickshift", kernel_size=kernel_size, max_dist=max_dist, ratio=ratio, random_seed=seed
    )


def quickshift_segments(image_hwc: np.ndarray, *, kernel_size: float, max_dist: float, ratio: float, seed: int) -> np.ndarray:
    """Superpixel labels of one image.

    Parameters
    ----------
    image_hwc : (H, W, 3) float in [0, 1]; quickshift converts it to Lab itself.

    Returns
    -------
    (H, W) int64 labels numbered 0..K-1 without gaps.
    """
    segmenter = quickshift_segmenter(kernel_size=kernel_size, max_dist=max_dist, ratio=ratio, seed=seed)
    labels = segmenter(image_hwc)
    _, consecutive = np.unique(labels, return_inverse=True)
    return consecutive.reshape(labels.shape).astype(np.int64)


def paint(segments: np.ndarray, weights_by_segment: dict) -> np.ndarray:
    """(H, W) float32 map with each segment set to its weight (0 where none is given)."""
    lookup = np.zeros(int(segments.max()) + 1, dtype=np.float32)
    for segment, weight in weights_by_segment.items():
        lookup[int(segment)] = weight
    return lookup[segments]
