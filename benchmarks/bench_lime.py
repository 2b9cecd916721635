"""Where LIME's time goes, per patch: superpixels, composing the samples, the model, and lime's fit.

On a GPU the forward passes shrink and the rest does not: whatever this prints outside "model
forwards" is the CPU-side floor of LIME on any accelerator (on an H100 host, LIME took 11.1 s of
the 14.1 s that explain + curves took for 30 patches).  Runs the build's own LIME (the report's
settings, each patch's own seed) on the first N patches of the validation split::

    python benchmarks/bench_lime.py --images 10
    python benchmarks/bench_lime.py --images 10 --checkpoint model.pt --data-dir pcam/
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from child import checkpoint_or_demo

from reportgen.cache import default_cache_dir
from reportgen.config import resolve_config
from reportgen.data import as_float_tensor
from reportgen.explain import lime as lime_module
from reportgen.model.checkpoint import load_checkpoint
from reportgen.pipeline.data import open_data
from reportgen.pipeline.explain import patch_explainer
from reportgen.runtime import resolve_device


@contextlib.contextmanager
def timed(owner, attribute: str, seconds: dict, key: str):
    """Add the wall time of every call of ``owner.attribute`` to ``seconds[key]`` while the block runs."""
    original = getattr(owner, attribute)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds[key] += time.perf_counter() - started

    setattr(owner, attribute, wrapper)
    try:
        yield
    finally:
        setattr(owner, attribute, original)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--checkpoint", default=None, help="default: the demo model, trained or read from the cache")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        checkpoint = checkpoint_or_demo(args.checkpoint, Path(temporary))
        config = resolve_config(flag_values={"checkpoint": checkpoint, "data_dir": args.data_dir})
        device = resolve_device(config.device)
        model = load_checkpoint(checkpoint).model.to(device, memory_format=torch.channels_last).eval()
    split = open_data(config, default_cache_dir()).split(config.split)
    indices = np.arange(min(args.images, len(split)))
    batch = split.read(indices)
    images = as_float_tensor(batch.images).to(device)
    with torch.inference_mode():
        targets = model(images).argmax(1)

    from lime import lime_base
    from lime.wrappers import scikit_image

    seconds: dict[str, float] = defaultdict(float)
    explainer_class = lime_module._batched_explainer_class()
    with timed(scikit_image.SegmentationAlgorithm, "__call__", seconds, "superpixels (quickshift)"), \
            timed(lime_module, "predict_proba", seconds, "model forwards"), \
            timed(explainer_class, "data_labels", seconds, "sampling + composing + forwards"), \
            timed(lime_base.LimeBase, "explain_instance_with_data", seconds, "lime's weighted ridge fit"):
        started = time.perf_counter()
        forwards = 0
        for position, patch in enumerate(indices):
            explanation = patch_explainer("lime", model, int(patch), config).explain(
                images[position : position + 1], targets[position : position + 1])
            forwards += explanation.forward_passes
        total = time.perf_counter() - started
    composing = seconds.pop("sampling + composing + forwards") - seconds["model forwards"]
    seconds["sampling + composing the samples"] = composing
    seconds["rest (distances, bookkeeping)"] = total - sum(seconds.values())
    print(f"LIME on {len(indices)} patches, device {device}: {total:.2f} s, {total / len(indices) * 1000:.0f} ms a "
          f"patch, {forwards} forwards ({forwards / len(indices):.0f} a patch)")
    for part, value in sorted(seconds.items(), key=lambda item: -item[1]):
        print(f"  {part:36} {value:7.2f} s  {value / total:6.1%}  {value / len(indices) * 1000:6.0f} ms a patch")
    print(f"CPU-side floor (everything but the model's forwards): {(total - seconds['model forwards']) / len(indices) * 1000:.0f} ms a patch")


if __name__ == "__main__":
    main()
