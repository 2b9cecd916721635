"""The notebook's training augmentation, applied to whole batches with tensor ops.

Equivalent in distribution to the notebook's torchvision pipeline
(``RandomHorizontalFlip()``, ``RandomRotation(10)``,
``RandomApply([ColorJitter(0.2, 0.2, 0.2)], p=0.5)``) but drawn per image
from one seeded ``torch.Generator``, so a run is reproducible and a batch
costs a few vectorised operations instead of a Python loop per patch. Two
deliberate differences: rotation interpolates bilinearly (torchvision:
nearest), and jitter applies brightness, contrast, saturation in this fixed
order (torchvision: random order).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional

MAX_ROTATION_DEGREES = 10.0
JITTER_STRENGTH = 0.2
JITTER_PROBABILITY = 0.5

# ITU-R BT.601 luma weights, as torchvision's rgb_to_grayscale.
_LUMA = (0.299, 0.587, 0.114)


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _grayscale(images: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(_LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)


def _rotate(images: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate each image about its centre; corners outside the patch become 0 (black)."""
    radians = degrees * (math.pi / 180.0)
    cos, sin = torch.cos(radians), torch.sin(radians)
    zeros = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1)
    grid = functional.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return functional.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _jitter(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    n = images.shape[0]
    low, high = 1.0 - JITTER_STRENGTH, 1.0 + JITTER_STRENGTH
    brightness = _uniform(n, low, high, generator).view(n, 1, 1, 1).to(images.device)
    contrast = _uniform(n, low, high, generator).view(n, 1, 1, 1).to(images.device)
    saturation = _uniform(n, low, high, generator).view(n, 1, 1, 1).to(images.device)
    images = (images * brightness).clamp(0.0, 1.0)
    mean_gray = _grayscale(images).mean(dim=(2, 3), keepdim=True)
    images = ((images - mean_gray) * contrast + mean_gray).clamp(0.0, 1.0)
    gray = _grayscale(images)
    return ((images - gray) * saturation + gray).clamp(0.0, 1.0)


def augment_batch(images: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
    """Randomly flip, rotate and colour-jitter each image of a batch.

    Parameters
    ----------
    images : (N, 3, H, W) float in [0, 1].
    generator : CPU ``torch.Generator``; every random draw comes from it.

    Returns
    -------
    (N, 3, H, W) float in [0, 1], a new tensor.
    """
    n = images.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    degrees = _uniform(n, -MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES, generator)
    apply_jitter = torch.rand(n, generator=generator) < JITTER_PROBABILITY
    images = torch.where(flip.view(n, 1, 1, 1).to(images.device), images.flip(-1), images)
    images = _rotate(images, degrees.to(images.device))
    # Draw jitter factors for every image so the generator advances the same way
    # whatever the coin flips were; only the selected images keep the result.
    jittered = _jitter(images, generator)
    return torch.where(apply_jitter.view(n, 1, 1, 1).to(images.device), jittered, images)
