"""Quickshift superpixels shared by LIME and KernelSHAP, so both explain the same features."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

import numpy as np

from reportgen.data.files import PATCH_SIZE
from reportgen.explain.base import Explainer, MethodStanding
from reportgen.metrics.localisation import UNIFORM_CENTRE_MASS

if TYPE_CHECKING:  # the schema reads the methods' stability variants from reportgen.explain
    from reportgen.schema import MethodSection

#: A superpixel map with fewer superpixels than this (a 4x4 grid) is said to localise coarsely.
COARSE_SUPERPIXELS = 16

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


def coarse_superpixels(record: MethodSection, title: str, *, patch_size: int = PATCH_SIZE,
                       centre_decides: bool = True) -> str | None:
    """A sentence when a superpixel method's maps are too coarse to localise, else None.

    ``record`` is the method's record in report.json; its ``extras.n_superpixels.per_image`` holds each
    patch's superpixel count.  The map cannot be finer than its superpixels, so with fewer than
    :data:`COARSE_SUPERPIXELS` (median over the patches) an average superpixel is about as large as the
    centre region that decides the label, or larger.
    """
    n_superpixels = record.extras.get("n_superpixels")
    counts = [value for value in ([] if n_superpixels is None else n_superpixels.per_image) if value is not None]
    if not counts:
        return None
    median = statistics.median(counts)
    if median >= COARSE_SUPERPIXELS:
        return None
    patch_pixels = patch_size * patch_size
    size = patch_pixels / median
    compared = (f"is {size / (UNIFORM_CENTRE_MASS * patch_pixels):.1f} times the centre 32x32 region that decides "
                "the label" if centre_decides else f"covers {size / patch_pixels:.0%} of the patch")
    return (f"{title} divides a patch into only {median:g} superpixels (median over the patches; {min(counts):g} "
            f"to {max(counts):g}), so its map cannot localise finer than that: an average superpixel "
            f"({size:.0f} pixels) {compared}.")


class SuperpixelExplainer(Explainer):
    """Base of the methods that explain quickshift superpixels (LIME, KernelSHAP): the report also warns when
    their superpixels are too coarse to localise (:func:`coarse_superpixels`)."""

    extra_labels = {"n_superpixels": "Superpixels per patch, mean"}
    patch_facts = {"n_superpixels": "superpixels"}

    @classmethod
    def report_warnings(cls, record: MethodSection, standing: MethodStanding) -> list[tuple[str, str]]:
        found = super().report_warnings(record, standing)
        coarse = coarse_superpixels(record, standing.title, patch_size=standing.patch_size,
                                    centre_decides=standing.centre_decides)
        return found + ([("medium", coarse)] if coarse else [])
