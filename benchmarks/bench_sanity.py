"""Benchmark the sanity check: seconds per patch per method, three-stage cascade against per-block.

The demo model and the build's patch selection for ``--images`` patches; the
first ``--sanity-images`` of them are explained, then re-explained through each
cascade with the cache off, method by method, the two cascades back to back so
they share the machine's load.  Also times the Sobel positive control.

    python benchmarks/bench_sanity.py --images 30 --sanity-images 12
    python benchmarks/bench_sanity.py --images 4 --sanity-images 2 --lime-samples 50   # smoke run
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from reportgen.cache import ArrayCache, default_cache_dir
from reportgen.config import resolve_config
from reportgen.data import as_float_tensor, select_cases
from reportgen.metrics.sanity import randomisation_stages
from reportgen.pipeline.data import open_data
from reportgen.pipeline.explain import explain_patches
from reportgen.pipeline.model import load_given_checkpoint, predict_evaluation_split, train_demo_model
from reportgen.pipeline.sanity import sanity_checks, sanity_controls
from reportgen.runtime import resolve_device, seed_everything

#: The cascade before the per-block one: head, last block, then everything else at once.
THREE_STAGES = [["backbone.fc"], ["backbone.layer4"],
                ["backbone.layer3", "backbone.layer2", "backbone.layer1", "backbone.conv1", "backbone.bn1"]]


def _selected_patches(config, cache_root: Path, cache: ArrayCache, device):
    """The build's model and its first ``config.sanity_images`` selected patches, explained."""
    loaded = load_given_checkpoint(config, device=device)
    data = open_data(config, cache_root)
    split = data.split(config.split)
    if loaded is None:
        loaded = train_demo_model(config, data, cache_root=cache_root, device=device, progress=False)
    model = loaded.model.to(device, memory_format=torch.channels_last).eval()
    context = {"checkpoint": loaded.info["sha256"], "data": data.fingerprint, "split": config.split}
    evaluated, probabilities, labels, _ = predict_evaluation_split(model, split, config=config, progress=False,
                                                                   cache=cache, cache_context=context)
    predictions = probabilities.argmax(axis=1)
    chosen, _, _ = select_cases(labels, predictions, probabilities.max(axis=1), config.images, seed=config.seed)
    chosen = chosen[np.argsort(evaluated[chosen], kind="stable")][: config.sanity_images]
    patch_indices = evaluated[chosen]
    images = as_float_tensor(split.read(patch_indices).images).to(device)
    targets = torch.as_tensor(predictions[chosen], dtype=torch.long, device=device)
    methods = explain_patches(model, images, targets, patch_indices, config=config, cache=cache,
                              cache_context=context, progress=False)
    return model, images, targets, patch_indices, methods, context


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30, help="patches the build selects (default 30)")
    parser.add_argument("--sanity-images", type=int, default=12, help="patches timed (default 12)")
    parser.add_argument("--lime-samples", type=int, default=None, help="LIME samples (default: the build's)")
    args = parser.parse_args()
    settings = [] if args.lime_samples is None else [f"lime.num_samples={args.lime_samples}"]
    config = resolve_config(flag_values={"images": args.images, "sanity_images": args.sanity_images},
                            settings=settings)
    device = resolve_device(config.device)
    seed_everything(config.seed)
    cache_root = default_cache_dir()
    model, images, targets, patches, methods, context = _selected_patches(
        config, cache_root, ArrayCache(cache_root / "results"), device)
    off = ArrayCache(cache_root / "results", enabled=False)
    cascades = {"three_stages": THREE_STAGES, "per_block": randomisation_stages(model)}
    n = len(patches)
    rows, outcomes = {}, {}
    for name, result in methods.items():
        for cascade, stages in cascades.items():
            start = time.perf_counter()
            outcome = sanity_checks(model, images, targets, patches, {name: result}, config=config, cache=off,
                                    cache_context=context, stages=stages)[name]
            seconds = time.perf_counter() - start
            rows[(name, cascade)] = seconds
            outcomes[(name, cascade)] = (outcome.outcome, float(outcome.similarity[-1]),
                                         [round(float(v), 3) for v in outcome.ci95])
    start = time.perf_counter()
    controls = sanity_controls(model, images, targets, config=config)
    control_seconds = time.perf_counter() - start
    print(f"{n} patches, torch threads {torch.get_num_threads()}")
    print(f"{'method':22} {'cascade':13} {'seconds':>8} {'s/patch':>8}  outcome")
    for (name, cascade), seconds in rows.items():
        print(f"{name:22} {cascade:13} {seconds:8.1f} {seconds / n:8.2f}  {outcomes[(name, cascade)]}")
    for cascade in cascades:
        total = sum(seconds for (_, c), seconds in rows.items() if c == cascade)
        print(f"{'all methods':22} {cascade:13} {total:8.1f} {total / n:8.2f}")
    print(f"{'sobel control':22} {'per_block':13} {control_seconds:8.2f} {control_seconds / n:8.3f}  "
          f"{json.dumps({k: v.outcome for k, v in controls.items()})}")


if __name__ == "__main__":
    main()
