"""The report's ``slides`` record: accuracy per slide on the evaluated split, and per slide of the explained
patches each method's deletion gain over the random map and its centre mass, with the worst slide per method.

Assembly of values the build already computed (no model call), like the
stability section; the per-slide arithmetic is :mod:`reportgen.metrics.slides`.
"""

from __future__ import annotations

import numpy as np

from reportgen.metrics.slides import per_slide_means

RULE = ("Per slide: the model's accuracy on the evaluated patches of that slide; and, on its explained patches "
        "that are informative for deletion, each method's deletion gain over the random map (the random map's "
        "deletion AUC minus the method's, so higher is better and 0 is no better than random) and its centre mass "
        "on all its explained patches. A slide's worst method is the one with the lowest gain; a slide with no "
        "informative patch has no gain.")


def slide_section(*, split_accuracy: dict[str, dict] | None, slide_ids, informative: np.ndarray,
                  deletion_auc: dict[str, np.ndarray], random_deletion_auc: np.ndarray,
                  centre_mass: dict[str, np.ndarray]) -> dict | None:
    """``None`` without slide ids; else the ``slides`` record (:class:`reportgen.schema.Slides`).

    Parameters
    ----------
    split_accuracy : :func:`reportgen.metrics.slides.per_slide_accuracy` of the evaluated split, or None.
    slide_ids : (N,) slide id of each explained patch, or None.
    informative : (N,) bool, the patches informative for deletion.
    deletion_auc : method -> (N,) deletion AUC; random_deletion_auc : (N,) the random map's.
    centre_mass : method -> (N,) centre mass.
    """
    if slide_ids is None:
        return None
    slides = sorted({str(s) for s in slide_ids})
    counts = {slide: int(sum(str(s) == slide for s in slide_ids)) for slide in slides}
    gains = {name: per_slide_means(random_deletion_auc - auc, slide_ids, informative)
             for name, auc in deletion_auc.items()}
    centres = {name: per_slide_means(values, slide_ids) for name, values in centre_mass.items()}
    explained = {slide: {"patches": counts[slide],
                         "informative": int(sum(1 for s, keep in zip(slide_ids, informative) if str(s) == slide and keep)),
                         "methods": {name: {"deletion_gain": gains[name][slide], "centre_mass": centres[name][slide]}
                                     for name in deletion_auc}}
                for slide in slides}
    worst = {}
    for name in deletion_auc:
        decided = [(gain, slide) for slide, gain in gains[name].items() if gain is not None]
        worst[name] = None if not decided else {"slide": min(decided)[1], "deletion_gain": min(decided)[0]}
    return {"rule": RULE, "split": split_accuracy or {}, "explained": explained, "worst": worst}
