"""Where the attribution lies: the PCam label region and ground-truth masks.

PCam's label depends only on the centre 32x32 of a 96x96 patch (Veeling et al.,
MICCAI 2018), so the share of positive attribution there is a localisation
score that needs no masks.  Where masks exist (the synthetic set), the pointing
game (Zhang et al., "Top-down Neural Attention by Excitation Backprop", ECCV
2016) and the share of mass inside the mask are reported too.
"""

from __future__ import annotations

import numpy as np

from reportgen.data.files import PATCH_SIZE
from reportgen.errors import DataError
from reportgen.metrics.faithfulness import pixel_order


def _as_maps(maps) -> np.ndarray:
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise DataError(f"attribution maps have shape {maps.shape}; expected (N, H, W)")
    return maps


def _as_masks(masks, shape) -> np.ndarray:
    masks = np.asarray(masks).astype(bool)
    if masks.shape != shape:
        raise DataError(f"masks have shape {masks.shape}; expected {shape} to match the maps")
    return masks


def centre_slices(h: int, w: int) -> tuple[slice, slice]:
    """Rows and columns of the centre third: 32..63 for 96 px (PCam's label region)."""
    return slice(h // 3, 2 * h // 3), slice(w // 3, 2 * w // 3)


def centre_region(height: int, width: int) -> np.ndarray:
    """(H, W) bool, True on the centre third (:func:`centre_slices`): PCam's label region."""
    region = np.zeros((height, width), dtype=bool)
    rows, cols = centre_slices(height, width)
    region[rows, cols] = True
    return region


def uniform_centre_share(side: int) -> float:
    """Share of a uniform map's attribution inside the centre third of a ``side`` x ``side`` patch: the third's
    share of the patch (a ninth where 3 divides ``side``)."""
    return float(centre_region(side, side).mean())


#: Share of a uniform map's attribution inside PCam's label region, the centre 32x32 of its 96x96 patches: a ninth.
UNIFORM_CENTRE_MASS = uniform_centre_share(PATCH_SIZE)


def positive_share(maps: np.ndarray, region: np.ndarray) -> np.ndarray:
    """(N,) share of each map's positive attribution inside ``region`` ((H, W) or (N, H, W) bool); nan for a
    map with none. Negative attribution counts as zero."""
    positive = np.clip(maps, 0, None)
    total = positive.sum(axis=(1, 2))
    inside = (positive * region).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / np.where(total > 0, total, 1.0), np.nan)


def centre_mass(maps) -> np.ndarray:
    """Share of positive attribution inside the centre third (centre 32x32 of 96).

    Parameters
    ----------
    maps : (N, H, W) attribution; negative values count as zero.

    Returns
    -------
    (N,) float64 in [0, 1]; a uniform 96 px map scores :data:`UNIFORM_CENTRE_MASS`; nan
    for a map with no positive mass.
    """
    maps = _as_maps(maps)
    return positive_share(maps, centre_region(*maps.shape[1:]))


def pointing_game(maps, masks, *, tolerance: int = 3, seed: int = 0) -> np.ndarray:
    """1.0 where the map's maximum lies within ``tolerance`` px of the mask, else 0.0.

    The maximum is the first position of :func:`~reportgen.metrics.faithfulness.pixel_order`
    (ties between maxima broken by the same seeded permutation as the curves),
    so a plateau of maxima gives one reproducible answer.  Distance is
    Chebyshev (max of row and column offsets): the hit region is the mask
    dilated by a (2 * tolerance + 1) square.  The default of 3 px suits 96 px
    patches; ImageNet's 15 px would cover a third of one.

    Parameters
    ----------
    maps : (N, H, W) attribution.
    masks : (N, H, W) bool ground-truth masks.
    tolerance : allowed Chebyshev distance in pixels (default 3).
    seed : tie-break seed (default 0).

    Returns
    -------
    (N,) float64 1.0 (hit) / 0.0 (miss); nan where the mask is empty.
    """
    maps = _as_maps(maps)
    masks = _as_masks(masks, maps.shape)
    _, h, w = maps.shape
    peaks = pixel_order(maps, seed=seed)[:, 0]
    hits = np.full(len(maps), np.nan)
    for i, (peak, mask) in enumerate(zip(peaks, masks)):
        if not mask.any():
            continue
        row, col = divmod(int(peak), w)
        window = mask[max(row - tolerance, 0) : row + tolerance + 1, max(col - tolerance, 0) : col + tolerance + 1]
        hits[i] = float(window.any())
    return hits


def mass_in_mask(maps, masks) -> np.ndarray:
    """(N,) share of positive attribution inside each mask; nan where the mask is empty or
    the map has no positive mass.  ``maps`` (N, H, W), ``masks`` (N, H, W) bool."""
    maps = _as_maps(maps)
    masks = _as_masks(masks, maps.shape)
    shares = np.stack([positive_share(m[None], k)[0] for m, k in zip(maps, masks)]) if len(maps) else np.empty(0)
    return np.where(masks.any(axis=(1, 2)), shares, np.nan)
