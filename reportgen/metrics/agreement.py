"""Agreement between explanation methods.

Maps differ in resolution (Grad-CAM on layer4 is 3x3 at 96 px, LIME is
superpixels, Integrated Gradients is per pixel), so rank correlation is taken
on a common grid of average-pooled cells (docs/metrics.md#agreement-between-methods):

- Spearman rank correlation of the pooled maps (Spearman, 1904), as used to
  compare saliency maps by Adebayo et al., "Sanity Checks for Saliency Maps",
  NeurIPS 2018;
- IoU of the top 10% pixels at full resolution, tie-aware: pixels tied at
  the cut share the places left (:func:`top_fraction_iou`), so no seed
  decides the set.

The words the report uses for these numbers (agree, partly agree, disagree) have
their thresholds here, so every section reads a correlation the same way.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.stats import rankdata

from reportgen.errors import ConfigError, DataError
from reportgen.metrics.stats import plain_float

#: Spearman at or above this counts as agreement.
AGREE_SPEARMAN = 0.5
#: Spearman below this counts as disagreement; in between the report says "partly agree".
DISAGREE_SPEARMAN = 0.2


def _as_maps(maps) -> np.ndarray:
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise DataError(f"attribution maps have shape {maps.shape}; expected (N, H, W)")
    return maps


def _same_shape(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_maps(a), _as_maps(b)
    if a.shape != b.shape:
        raise DataError(f"maps to compare have shapes {a.shape} and {b.shape}; upsample both to the image size")
    return a, b


#: Side in pixels of the cells maps are averaged over before they are compared (12x12 cells at 96 px): coarse enough
#: that a shift by a few pixels does not count as disagreement, fine enough to tell the centre from the border.
POOL_CELL = 8


def pool_maps(maps, cell: int = POOL_CELL) -> np.ndarray:
    """Average-pool (N, H, W) maps into (N, H/cell, W/cell) cells (12x12 for 96 px, cell 8)."""
    maps = _as_maps(maps)
    n, h, w = maps.shape
    if cell < 1 or h % cell or w % cell:
        raise ConfigError(f"cell={cell} must divide the map size {h}x{w}; choose a divisor such as 8 for 96 px")
    return maps.reshape(n, h // cell, cell, w // cell, cell).mean(axis=(2, 4))


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row Spearman of (N, P) arrays: Pearson of average ranks; nan where a row is constant."""
    ranks_a = rankdata(a, axis=1)
    ranks_b = rankdata(b, axis=1)
    ranks_a -= ranks_a.mean(axis=1, keepdims=True)
    ranks_b -= ranks_b.mean(axis=1, keepdims=True)
    norm = np.sqrt((ranks_a**2).sum(axis=1) * (ranks_b**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (ranks_a * ranks_b).sum(axis=1) / np.where(norm > 0, norm, 1.0), np.nan)


def spearman_pooled(a, b, cell: int = POOL_CELL) -> np.ndarray:
    """Spearman rank correlation per image of average-pooled maps.

    Parameters
    ----------
    a, b : (N, H, W) maps of two methods for the same images.
    cell : pooling cell in pixels (default 8: 12x12 cells for 96 px).

    Returns
    -------
    (N,) float64 in [-1, 1]; nan where either pooled map is constant (a rank
    correlation is undefined without any ranking).
    """
    a, b = _same_shape(a, b)
    pooled_a, pooled_b = pool_maps(a, cell), pool_maps(b, cell)
    return _rank_correlation(pooled_a.reshape(len(a), -1), pooled_b.reshape(len(b), -1))


def spearman_full(a, b) -> np.ndarray:
    """(N,) Spearman rank correlation per image at full resolution; nan for a constant map."""
    a, b = _same_shape(a, b)
    return _rank_correlation(a.reshape(len(a), -1), b.reshape(len(b), -1))


def top_fraction_membership(maps, fraction: float = 0.10) -> np.ndarray:
    """Each pixel's share of membership in the top ``fraction`` of its map, ties shared equally.

    With k = ``round(fraction * H * W)`` (at least one) and v the k-th largest
    value of a map, pixels above v are members (1), pixels below are not (0),
    and the t pixels equal to v share the r places still free (r / t each):
    the chance that a uniformly random tie-break would put them in the top k.
    Every map's memberships therefore sum to exactly k, and no seed is
    involved.  NaN ranks last (as in :func:`~reportgen.metrics.faithfulness.pixel_order`),
    tied with -inf.

    Parameters
    ----------
    maps : (N, H, W) attribution maps; higher means more important.
    fraction : share of the pixels in the top set, in (0, 1] (default 0.10).

    Returns
    -------
    (N, H, W) float64 in [0, 1], each image summing to k.
    """
    maps = _as_maps(maps)
    if not 0 < fraction <= 1:
        raise ConfigError(f"fraction={fraction!r} must lie in (0, 1] (default 0.10)")
    n, h, w = maps.shape
    count = max(1, int(round(fraction * h * w)))
    values = np.where(np.isnan(maps), -np.inf, maps).reshape(n, h * w)
    cut = -np.partition(-values, count - 1, axis=1)[:, count - 1 : count]
    above = values > cut
    tied = values == cut
    free = count - above.sum(axis=1, keepdims=True)
    share = free / tied.sum(axis=1, keepdims=True)
    return (above + tied * share).reshape(n, h, w)


def top_fraction_iou(a, b, fraction: float = 0.10) -> np.ndarray:
    """IoU of the top ``fraction`` of pixels of two maps, per image, at full resolution; tie-aware.

    Memberships come from :func:`top_fraction_membership` (pixels tied at the
    cut share the free places), and the IoU is the fuzzy (Ruzicka) Jaccard
    index ``sum(min(m_a, m_b)) / sum(max(m_a, m_b))``.  Without ties at the
    cut this is the plain IoU of the two top-k sets.

    Why not a seeded tie-break: LIME's maps are constant on each of about 9
    superpixels, so on the 30-patch demo about 1,400 pixels (mean) tie at the
    cut where 922 of 9,216 are taken, and the seed, not the map, chose much of
    the set: a LIME map against itself under tie-break seeds 0 and 1 scored
    0.62.  Here a
    map against itself, or against any order-preserving transform of itself,
    scores exactly 1.  When one map has no ties at the cut, ``sum(min)`` is
    the overlap expected over uniformly random tie-breaks of the other, so
    the score does not reward or punish a coarse map for how its ties fall.

    Parameters
    ----------
    a, b : (N, H, W) maps of two methods for the same images.
    fraction : share of the pixels in each top set, in (0, 1] (default 0.10).

    Returns
    -------
    (N,) float64 in [0, 1].
    """
    a, b = _same_shape(a, b)
    member_a, member_b = top_fraction_membership(a, fraction), top_fraction_membership(b, fraction)
    overlap = np.minimum(member_a, member_b).sum(axis=(1, 2))
    union = np.maximum(member_a, member_b).sum(axis=(1, 2))
    return overlap / union


def agreement_matrix(maps_by_method: dict[str, np.ndarray], *, cell: int = POOL_CELL, fraction: float = 0.10) -> dict:
    """Pairwise agreement of all methods, averaged over images, with per-image values.

    Parameters
    ----------
    maps_by_method : method name -> (N, H, W) maps of the same images.
    cell : pooling cell for Spearman (default 8); fraction : top fraction for the tie-aware IoU
        (default 0.10; :func:`top_fraction_iou`).

    Returns
    -------
    ``{"methods": [M names], "spearman": M x M means, "iou_top10": M x M means,
    "per_image": {"spearman": M x M x N, "iou_top10": M x M x N}}`` as nested lists of
    plain floats (``None`` where undefined, e.g. Spearman of a constant map; means
    skip undefined images).
    """
    methods = list(maps_by_method)
    size = len(methods)
    per_image = {"spearman": [[None] * size for _ in range(size)], "iou_top10": [[None] * size for _ in range(size)]}
    means = {"spearman": [[None] * size for _ in range(size)], "iou_top10": [[None] * size for _ in range(size)]}
    for i, j in itertools.product(range(size), repeat=2):
        if j < i:
            for key in means:
                per_image[key][i][j] = per_image[key][j][i]
                means[key][i][j] = means[key][j][i]
            continue
        a, b = maps_by_method[methods[i]], maps_by_method[methods[j]]
        values = {
            "spearman": spearman_pooled(a, b, cell),
            "iou_top10": top_fraction_iou(a, b, fraction),
        }
        for key, value in values.items():
            per_image[key][i][j] = [plain_float(v) for v in value]
            means[key][i][j] = _mean_of_defined(per_image[key][i][j])
    return {"methods": methods, **means, "per_image": per_image}


def _mean_of_defined(values: list[float | None]) -> float | None:
    """Mean of the defined per-image values (``None`` marks an undefined one); ``None`` when none is."""
    defined = np.array([v for v in values if v is not None], dtype=np.float64)
    return plain_float(defined.mean()) if len(defined) else None


def combine_agreement(parts: list[dict]) -> dict:
    """One :func:`agreement_matrix` from those of consecutive groups of the same images, in order.

    The per-image values are joined and the means taken again over all of them, so the result equals
    the matrix of all the images at once.
    """
    methods = parts[0]["methods"]
    size = len(methods)
    per_image = {key: [[[v for part in parts for v in part["per_image"][key][i][j]] for j in range(size)]
                       for i in range(size)] for key in ("spearman", "iou_top10")}
    means = {key: [[_mean_of_defined(cell) for cell in row] for row in rows] for key, rows in per_image.items()}
    return {"methods": methods, **means, "per_image": per_image}
