"""Time batched deletion/insertion curves against the one-at-a-time reference.

Uses a real-size ResNet-18 (``reportgen.model.network.build_model()``, random
weights) on random 96 px images, and prints, for each precision, both wall
times, the speed-up and the largest absolute AUC difference between the two::

    python benchmarks/bench_curves.py --images 4 --steps 100
    python benchmarks/bench_curves.py --images 2 --steps 10      # smoke run
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from reportgen.inference import PRECISIONS
from reportgen.metrics.faithfulness import curve_auc, curves_one_at_a_time, deletion_insertion_curves
from reportgen.model.network import build_model

PCAM_MEAN = (0.70, 0.54, 0.69)


def _timed(function):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - started


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4, help="number of 96 px images (default 4)")
    parser.add_argument("--steps", type=int, default=100, help="curve steps (default 100)")
    parser.add_argument("--batch-size", type=int, default=256, help="batched forward size (default 256)")
    parser.add_argument("--mode", choices=("deletion", "insertion"), default="deletion")
    parser.add_argument("--substrate", default=None, help="default: mean for deletion, blur for insertion")
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    substrate = args.substrate or {"deletion": "mean", "insertion": "blur"}[args.mode]

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    model = build_model().to(device).to(memory_format=torch.channels_last)
    generator = torch.Generator().manual_seed(args.seed)
    images = torch.rand(args.images, 3, 96, 96, generator=generator).to(device)
    maps = np.random.default_rng(args.seed).random((args.images, 96, 96))
    targets = torch.zeros(args.images, dtype=torch.long)
    common = dict(mode=args.mode, substrate=substrate, steps=args.steps, seed=args.seed, dataset_mean=PCAM_MEAN)

    print(
        f"device={device} images={args.images} steps={args.steps} mode={args.mode} substrate={substrate} "
        f"batch_size={args.batch_size} threads={torch.get_num_threads()}"
    )
    print(f"{'precision':>9} {'batched s':>10} {'one-at-a-time s':>16} {'speed-up':>9} {'max |dAUC|':>11}")
    batched_aucs = {}
    for precision in args.precisions:
        deletion_insertion_curves(model, images[:1], maps[:1], targets[:1], precision=precision, **{**common, "steps": 2})
        batched, batched_seconds = _timed(
            lambda: deletion_insertion_curves(
                model, images, maps, targets, batch_size=args.batch_size, precision=precision, **common
            )
        )
        reference, reference_seconds = _timed(
            lambda: curves_one_at_a_time(model, images, maps, targets, precision=precision, **common)
        )
        difference = np.abs(curve_auc(batched) - curve_auc(reference)).max()
        batched_aucs[precision] = curve_auc(batched)
        print(
            f"{precision:>9} {batched_seconds:>10.2f} {reference_seconds:>16.2f} "
            f"{reference_seconds / batched_seconds:>8.1f}x {difference:>11.2e}"
        )
    if "fp32" in batched_aucs and "bf16" in batched_aucs:
        print(f"max |AUC bf16 - AUC fp32| (batched): {np.abs(batched_aucs['bf16'] - batched_aucs['fp32']).max():.2e}")


if __name__ == "__main__":
    main()
