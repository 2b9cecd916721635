"""Reference images ("baselines") that path and perturbation methods start from.

All live in the pixel space the user sees (RGB in [0, 1]); the model owns its
normalisation, so "black" is black for every model (docs/metrics.md#pixel-space-and-preprocessing).
"""

from __future__ import annotations

import torch

BASELINES = ("black", "white", "blur")

#: The blur of docs/metrics.md#substrates (kernel 11, sigma 5, reflect padding), the same as the blur substrate of
#: :mod:`reportgen.metrics.faithfulness`; it is not RISE's own blur kernel.
BLUR_KERNEL_SIZE = 11
BLUR_SIGMA = 5.0


def blurred(images: torch.Tensor) -> torch.Tensor:
    """Gaussian blur, kernel 11, sigma 5, reflect padding.

    Parameters
    ----------
    images : (N, 3, H, W) float in [0, 1].

    Returns
    -------
    (N, 3, H, W) float in [0, 1], same device.
    """
    from torchvision.transforms.functional import gaussian_blur  # only when a blur baseline is asked for

    return gaussian_blur(images, kernel_size=[BLUR_KERNEL_SIZE] * 2, sigma=[BLUR_SIGMA] * 2)


def make_baseline(images: torch.Tensor, kind: str) -> torch.Tensor:
    """The ``kind`` baseline ("black" = 0, "white" = 1, "blur") for each image, shaped like ``images``."""
    if kind == "black":
        return torch.zeros_like(images)
    if kind == "white":
        return torch.ones_like(images)
    if kind == "blur":
        return blurred(images)
    raise ValueError(f"unknown baseline {kind!r}; choose from: {', '.join(BASELINES)}")
