"""How stable the explanations themselves are: the same method, run again under a changed choice.

- **Repeatability**: the same patch explained twice with two seeds (LIME's sampler and
  segmentation); the two maps are compared by the agreement measures of docs/metrics.md#agreement-between-methods (Spearman of
  the maps pooled to 8 px cells, IoU of the top 10 % pixels), so the number reads on the same
  scale as the agreement between two methods.  Identical maps score 1.
- **Sensitivity to a setting**: the same comparison between the maps of each pair of settings
  (Integrated Gradients' black, white and blur baselines).

These are plain functions of (N, H, W) maps; :mod:`reportgen.pipeline.stability` computes the maps.
"""

from __future__ import annotations

import itertools

import numpy as np

from reportgen.metrics.agreement import AGREE_SPEARMAN, DISAGREE_SPEARMAN, spearman_pooled, top_fraction_iou


def map_similarity(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """Per-patch similarity of two map sets of the same patches (the tie-aware top-10 % IoU needs no seed).

    Parameters
    ----------
    a, b : (N, H, W) maps.

    Returns
    -------
    ``{"spearman": (N,), "iou_top10": (N,)}`` float64; Spearman is nan where a pooled map is constant.
    """
    return {"spearman": spearman_pooled(a, b), "iou_top10": top_fraction_iou(a, b)}


def pairwise_similarity(maps: dict[str, np.ndarray]) -> list[tuple[str, str, dict[str, np.ndarray]]]:
    """:func:`map_similarity` of every pair of map sets, in the order of ``maps`` (name -> (N, H, W))."""
    return [(first, second, map_similarity(maps[first], maps[second]))
            for first, second in itertools.combinations(maps, 2)]


def similarity_word(spearman: float | None) -> str:
    """"agree", "partly agree" or "disagree" for a mean Spearman, by the agreement note's thresholds."""
    if spearman is None or not np.isfinite(spearman):
        return "cannot be compared"
    if spearman >= AGREE_SPEARMAN:
        return "agree"
    if spearman >= DISAGREE_SPEARMAN:
        return "partly agree"
    return "disagree"


def outcomes_differ(outcomes: list[str]) -> bool:
    """Whether a set of verdict outcomes (one per setting) is not all the same."""
    return len(set(outcomes)) > 1
