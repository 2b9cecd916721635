"""Run-time facts: device choice, seeding, stage timings, versions, machine."""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
import platform
import random
import time
from collections.abc import Iterator

import numpy as np
import torch

from reportgen.errors import ConfigError

logger = logging.getLogger(__name__)

#: Distributions whose versions determine the numbers in a report.
VERSIONED_PACKAGES = (
    "reportgen", "torch", "torchvision", "numpy", "scipy", "h5py", "captum", "grad-cam",
    "lime", "scikit-image", "torchstain", "matplotlib", "jinja2", "weasyprint",
)


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; an explicit device must exist.

    On CUDA, TF32 is switched off: PyTorch lets cuDNN convolutions use TF32 by
    default, which moves fp32 AUCs by up to ~1e-3 between batch sizes and away
    from the CPU's numbers. ``--precision fp32`` means fp32 everywhere;
    ``--precision bf16`` is the opt-in for reduced precision.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return _strict_fp32_cuda()
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is available; use --device auto or cpu")
    if name == "cuda":
        return _strict_fp32_cuda()
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("--device mps was asked for but MPS is not available; use --device auto or cpu")
    return torch.device(name)


def _strict_fp32_cuda() -> torch.device:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch.device("cuda")


def derive_seed(seed: int, index: int) -> int:
    """A 31-bit seed for item ``index`` (a patch's index in its split) of a run seeded with ``seed``.

    Derived with numpy's SeedSequence so neighbouring items get unrelated
    streams, and an item's result does not depend on which other items are
    in the run or the batch it came in.
    """
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0] & 0x7FFFFFFF)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch; every component also takes its own explicit seed."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages in :data:`VERSIONED_PACKAGES`."""
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["python"] = platform.python_version()
    return versions


def machine_description(device: torch.device) -> dict[str, object]:
    """What the numbers were computed on."""
    description: dict[str, object] = {
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        description["gpu"] = torch.cuda.get_device_name(device)
    return description


class Stopwatch:
    """Named wall-clock timings of the pipeline's stages, in seconds."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        logger.info("%s ...", name.replace("_", " "))
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
            logger.info("%s done in %.1f s", name.replace("_", " "), self.seconds[name])

