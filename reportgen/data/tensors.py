"""Conversion of uint8 patches, as read from the files, to model input tensors.

Kept apart from the reader so that reading and inspecting data needs no torch.
"""

from __future__ import annotations

import numpy as np
import torch

from reportgen.errors import DataError


def as_float_tensor(images_uint8: np.ndarray) -> torch.Tensor:
    """Convert (n, H, W, 3) uint8 patches to a (n, 3, H, W) float32 tensor in [0, 1]."""
    images_uint8 = np.asarray(images_uint8)
    if images_uint8.dtype != np.uint8 or images_uint8.ndim != 4 or images_uint8.shape[-1] != 3:
        raise DataError(
            f"images have dtype {images_uint8.dtype} and shape {images_uint8.shape}; "
            "expected uint8 (n, H, W, 3) as read from the x dataset"
        )
    tensor = torch.from_numpy(np.ascontiguousarray(images_uint8)).permute(0, 3, 1, 2)
    return tensor.float().div_(255.0).contiguous()
