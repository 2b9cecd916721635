"""What every explainer needs around the model: a guard, seeded generators, and pass counts.

Explaining must not change the model it explains: :func:`guarded_model` puts
it in eval mode and freezes its parameters for the duration (gradients are
then taken with respect to the input only, which is also faster), and puts
back every module's mode, every ``requires_grad`` flag and every ``.grad``
afterwards, even when the method raises.
"""

from __future__ import annotations

import contextlib

import torch

from reportgen.inference import autocast_context


@contextlib.contextmanager
def guarded_model(model: torch.nn.Module):
    """Eval mode and frozen parameters inside; the model exactly as it was outside."""
    modes = [(module, module.training) for module in model.modules()]
    parameters = list(model.parameters())
    flags = [parameter.requires_grad for parameter in parameters]
    grads = [parameter.grad for parameter in parameters]
    try:
        model.eval()
        for parameter in parameters:
            parameter.requires_grad_(False)
        yield model
    finally:
        for module, training in modes:
            module.training = training
        for parameter, flag, grad in zip(parameters, flags, grads):
            parameter.requires_grad_(flag)
            parameter.grad = grad


@contextlib.contextmanager
def seeded_torch(seed: int, device: torch.device):
    """Seed torch's global generators inside; restore the caller's state outside.

    captum draws KernelSHAP coalitions and SmoothGrad noise from the global
    generator and takes no generator argument, so it is forked rather than
    left to whatever state the caller had.
    """
    devices = list(range(torch.cuda.device_count())) if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class CountingForward:
    """The model as a forward function that counts image-passes.

    Parameters
    ----------
    model : classifier taking (B, 3, H, W) float in [0, 1], returning (B, C) logits.
    precision : "fp32" (default) or "bf16"; bf16 is only for gradient-free calls.
    softmax : return probabilities instead of logits (default False).
    """

    def __init__(self, model: torch.nn.Module, *, precision: str = "fp32", softmax: bool = False):
        self.model = model
        self.precision = precision
        self.softmax = softmax
        self.images = 0

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        self.images += len(images)
        device = images.device
        with autocast_context(device, self.precision):
            outputs = self.model(images).float()
        return torch.softmax(outputs, dim=1) if self.softmax else outputs
