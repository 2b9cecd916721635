"""Reference maps scored exactly like the explanation methods (docs/metrics.md#reference-maps).

A faithfulness number means little on its own; next to these it can be judged.
A method that does not beat the random map is flagged in the report.

- ``random``: i.i.d. uniform values from a seeded generator (the floor to beat).
- ``centre_prior``: a Gaussian on the patch centre, where PCam's label lives
  (Veeling et al., "Rotation Equivariant CNNs for Digital Pathology", MICCAI 2018).
- ``sobel``: Sobel edge magnitude of the grayscale image (a model-independent
  edge detector; Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018,
  show that several saliency methods look like one).

Every entry of :data:`REFERENCE_MAPS` has the signature
``fn(images (N, 3, H, W) float in [0, 1], *, seed) -> (N, H, W) float32``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from skimage.color import rgb2gray
from skimage.filters import sobel

from reportgen.errors import DataError


def random_maps(n: int, h: int, w: int, *, seed: int) -> np.ndarray:
    """(n, h, w) float32 uniform [0, 1) values from ``np.random.default_rng(seed)``."""
    return np.random.default_rng(seed).random((n, h, w)).astype(np.float32)


def default_centre_sigma(h: int, w: int) -> float:
    """Sigma of the centre prior: one twelfth of the shorter side (8 px for 96 px).

    The centre third of the patch (32x32 of 96) reaches 4 sigma across, so
    erf(2 / sqrt(2))^2 = 91% of the Gaussian's mass lies inside it.
    """
    return min(h, w) / 12.0


def centre_prior_maps(n: int, h: int, w: int, *, sigma: float | None = None) -> np.ndarray:
    """(n, h, w) float32 isotropic Gaussian centred on the patch centre, peak 1.

    Parameters
    ----------
    n, h, w : number of maps and their size.
    sigma : standard deviation in pixels (default None: :func:`default_centre_sigma`,
        8 px for 96 px, which puts 91% of the mass in the centre 32x32).  The
        pixel ranking, and so the deletion/insertion score, does not depend on
        sigma; only the displayed map and the centre-mass number do.
    """
    sigma = default_centre_sigma(h, w) if sigma is None else float(sigma)
    rows = np.arange(h, dtype=np.float64) - (h - 1) / 2
    cols = np.arange(w, dtype=np.float64) - (w - 1) / 2
    squared = rows[:, None] ** 2 + cols[None, :] ** 2
    prior = np.exp(-squared / (2 * sigma**2)).astype(np.float32)
    return np.repeat(prior[None], n, axis=0)


def sobel_maps(images) -> np.ndarray:
    """(N, H, W) float32 Sobel edge magnitude of each grayscale image (``skimage.filters.sobel``).

    Parameters
    ----------
    images : (N, 3, H, W) float in [0, 1] (tensor or array); converted to grayscale
        with ``skimage.color.rgb2gray`` (ITU-R BT.709 luminance).
    """
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.ndim != 4 or array.shape[1] != 3:
        raise DataError(f"images have shape {array.shape}; expected (N, 3, H, W)")
    return np.stack([sobel(rgb2gray(np.moveaxis(image, 0, -1))) for image in array]).astype(np.float32)


def _random_reference(images, *, seed: int) -> np.ndarray:
    n, _, h, w = images.shape
    return random_maps(n, h, w, seed=seed)


def _centre_prior_reference(images, *, seed: int) -> np.ndarray:
    n, _, h, w = images.shape
    return centre_prior_maps(n, h, w)


def _sobel_reference(images, *, seed: int) -> np.ndarray:
    return sobel_maps(images)


#: name -> ``fn(images (N, 3, H, W), *, seed) -> (N, H, W)``; seed is ignored where nothing is random.
REFERENCE_MAPS: dict[str, Callable[..., np.ndarray]] = {
    "random": _random_reference,
    "centre_prior": _centre_prior_reference,
    "sobel": _sobel_reference,
}

REFERENCE_TITLES = {"random": "Random map", "centre_prior": "Centre prior", "sobel": "Sobel edges"}
