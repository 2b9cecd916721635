"""Batched, gradient-free forward passes shared by explainers and metrics.

Perturbation methods (LIME, occlusion, KernelSHAP) and the deletion/insertion
curves spend almost all of their time here, so this is the one place that
decides batch size, precision and memory format (docs/metrics.md#forward-passes-batched-in-one-place: the
notebook ran most of them at batch size 1).
"""

from __future__ import annotations

import contextlib

import torch

#: Forward-pass precisions (``--precision``): ``fp32``, or ``bf16`` autocast (:func:`autocast_context`).
PRECISIONS = ("fp32", "bf16")


def autocast_context(device: torch.device, precision: str):
    """Autocast for ``precision`` on ``device``; fp32 is a no-op context.

    bf16 is used only for gradient-free perturbation forwards; gradients
    (IG, Grad-CAM, saliency) always stay fp32.
    """
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    raise ValueError(f"unknown precision {precision!r}; choose from: {', '.join(PRECISIONS)}")


def model_device(model: torch.nn.Module) -> torch.device:
    """Device of the model's first parameter (CPU for a parameter-free module)."""
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


def predict_proba(
    model: torch.nn.Module,
    images: torch.Tensor,
    *,
    batch_size: int = 256,
    precision: str = "fp32",
) -> torch.Tensor:
    """Softmax probabilities for ``images``, in batches.

    Parameters
    ----------
    model : classifier taking (B, 3, H, W) float in [0, 1], returning (B, C) logits.
    images : (N, 3, H, W) float in [0, 1], on any device.
    batch_size : images per forward pass (default 256); bounds peak memory.
    precision : "fp32" (default) or "bf16" autocast.

    Returns
    -------
    (N, C) float32 probabilities on the CPU.
    """
    device = model_device(model)
    outputs = []
    with torch.inference_mode(), autocast_context(device, precision):
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size].to(device, non_blocking=True)
            batch = batch.contiguous(memory_format=torch.channels_last)
            outputs.append(torch.softmax(model(batch).float(), dim=1).cpu())
    if not outputs:
        return torch.empty(0, 0)
    return torch.cat(outputs)
