"""Per-slide values: patches of one slide share its stain, scanner and tissue, so a model or a map that works
on average can fail on one slide.  Plain functions of per-patch arrays and slide ids."""

from __future__ import annotations

import numpy as np

from reportgen.metrics.stats import exact_share_interval


def per_slide_accuracy(labels: np.ndarray, predictions: np.ndarray, slide_ids) -> dict[str, dict]:
    """slide id -> ``{"patches": int, "accuracy": float, "ci95": [low, high]}`` over the patches of each slide,
    slides sorted by id; the interval is the exact binomial one on the slide's patches
    (:func:`reportgen.metrics.stats.exact_share_interval`).

    labels, predictions : (N,) int; slide_ids : (N,) slide id of each patch.
    """
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    slides = np.asarray([str(s) for s in slide_ids], dtype=object)
    result = {}
    for slide in sorted(set(slides)):
        chosen = slides == slide
        accuracy = float(np.mean(labels[chosen] == predictions[chosen]))
        result[slide] = {"patches": int(chosen.sum()), "accuracy": accuracy,
                         "ci95": list(exact_share_interval(accuracy, int(chosen.sum())))}
    return result


def per_slide_means(values: np.ndarray, slide_ids, chosen: np.ndarray | None = None) -> dict[str, float | None]:
    """slide id -> mean of the finite ``values`` (N,) of its patches (those ``chosen`` (N,) bool, default all);
    None for a slide with none, slides sorted by id."""
    values = np.asarray(values, dtype=np.float64)
    slides = np.asarray([str(s) for s in slide_ids], dtype=object)
    keep = np.isfinite(values) & (np.ones(len(values), dtype=bool) if chosen is None else np.asarray(chosen, bool))
    result = {}
    for slide in sorted(set(slides)):
        picked = values[keep & (slides == slide)]
        result[slide] = float(picked.mean()) if len(picked) else None
    return result
