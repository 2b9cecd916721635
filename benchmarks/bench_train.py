"""Training throughput on the synthetic demo data.

Prints images/s of full-recipe training steps for fp32 and bf16 autocast
(bf16 only where the CPU or device supports it), each with and without
channels_last, and the wall time of the head recipe with a given backbone
file: ``reportgen train --recipe head --weights FILE`` with its demo settings
(5 epochs on a stratified 10 % of the training split, every validation patch),
first with an empty feature cache (features computed) and then again (cached).
Targets: the demo reaches >= 0.95 validation accuracy within 3 minutes of
training; head-only training < 60 s.

    python benchmarks/bench_train.py --steps 20 --batch-size 64
    python benchmarks/bench_train.py --backbone resnet18.pth --head-only
    python benchmarks/bench_train.py --head-only --head-train-fraction 1.0   # the whole training split
    python benchmarks/bench_train.py --smoke      # seconds; checks the script runs
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import torch

from reportgen.data import as_float_tensor, ensure_demo_data, open_pcam
from reportgen.inference import autocast_context
from reportgen.model.augment import augment_batch
from reportgen.model.network import PCamClassifier
from reportgen.model.settings import DEMO_HEAD_TRAIN_SETTINGS, DEMO_TRAIN_SETTINGS, demo_train_settings
from reportgen.model.train import train_model


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    # Without AVX-512 BF16 / AMX, CPU bf16 autocast is emulated and usually slower than fp32.
    return torch.backends.mkldnn.is_available()


def cpu_capability() -> str:
    try:
        return torch.backends.cpu.get_cpu_capability()
    except AttributeError:
        return "unknown"


def step_throughput(split, *, device, precision, channels_last, batch_size, steps, warmup=2) -> float:
    """Images/s of augment + forward + backward + Adam step, after ``warmup`` steps."""
    torch.manual_seed(0)
    model = PCamClassifier().to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    batches = split.iter_batches(batch_size, shuffle=True, seed=0)
    timed_images, started = 0, None
    for step in range(warmup + steps):
        try:
            batch = next(batches)
        except StopIteration:
            batches = split.iter_batches(batch_size, shuffle=True, seed=step)
            batch = next(batches)
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
        images = augment_batch(as_float_tensor(batch.images), generator=generator).to(device)
        labels = torch.as_tensor(batch.labels).to(device)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad(set_to_none=True)
        with autocast_context(device, precision):
            loss = torch.nn.functional.cross_entropy(model(images).float(), labels)
        loss.backward()
        optimizer.step()
        if step >= warmup:
            timed_images += len(labels)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return timed_images / (time.perf_counter() - started)


def head_timing(data, backbone: Path | None, *, epochs, device, eval_limit, train_fraction) -> dict:
    """Wall time of the head recipe, cold (features computed) and warm (features cached).

    Runs what ``reportgen train --recipe head`` runs: the head recipe's demo
    settings with the given overrides, the feature cache in an empty directory.
    """
    with tempfile.TemporaryDirectory() as scratch:
        if backbone is None:
            # No pretrained file given: a random backbone times the same work.
            backbone = Path(scratch) / "random_resnet18.pth"
            torch.manual_seed(0)
            torch.save(PCamClassifier().backbone.state_dict(), backbone)
        settings = demo_train_settings("head", weights=str(backbone), epochs=epochs, eval_limit=eval_limit,
                                       train_fraction=train_fraction)
        timings = {"settings": settings}
        for label in ("cold", "warm"):
            started = time.perf_counter()
            _, info = train_model(data, settings, device=device, progress=False, cache_dir=Path(scratch))
            timings[label] = time.perf_counter() - started
            timings[f"{label}_cache_hit"] = info["feature_cache_hit"]
        timings["val_accuracy"] = info["evaluation"]["accuracy"]
        timings["val_n"] = info["evaluation"]["n"]
        timings["train_size"] = info["train_size"]
        return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="PCam-format directory (default: the synthetic demo set)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=DEMO_TRAIN_SETTINGS.batch_size)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per configuration")
    parser.add_argument("--backbone", type=Path, help="resnet18 state dict for the head recipe")
    parser.add_argument("--head-epochs", type=int, default=DEMO_HEAD_TRAIN_SETTINGS.epochs)
    parser.add_argument("--head-eval-limit", type=int, default=None)
    parser.add_argument("--head-train-fraction", type=float, default=DEMO_HEAD_TRAIN_SETTINGS.train_fraction)
    parser.add_argument("--head-only", action="store_true", help="time only the head recipe")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check the script runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.smoke:
        args.steps, args.batch_size, args.head_epochs, args.head_eval_limit = 2, 8, 1, 64
        args.head_train_fraction = 0.01
    device = torch.device(args.device)
    data_dir = args.data_dir or ensure_demo_data()
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"cpu capability {cpu_capability()}, mkldnn {torch.backends.mkldnn.is_available()}")
    with open_pcam(data_dir, splits=("train", "valid")) as data:
        split = data.split("train")
        precisions = [] if args.head_only else ["fp32"] + (["bf16"] if bf16_supported(device) else [])
        for precision in precisions:
            for channels_last in (False, True):
                rate = step_throughput(split, device=device, precision=precision, channels_last=channels_last,
                                       batch_size=args.batch_size, steps=args.steps)
                epoch_s = len(split) / rate
                print(f"full  {precision:5s} channels_last={channels_last!s:5s} batch {args.batch_size:4d}: "
                      f"{rate:8.1f} images/s  ({epoch_s:7.1f} s per epoch of {len(split)})")
        timings = head_timing(data, args.backbone, epochs=args.head_epochs, device=device,
                              eval_limit=args.head_eval_limit, train_fraction=args.head_train_fraction)
        settings = timings["settings"]
        print(f"head  {settings.epochs} epochs on {timings['train_size']} training patches (train fraction "
              f"{settings.train_fraction}), validated on {timings['val_n']}: cold {timings['cold']:.1f} s "
              f"(features computed: {not any(timings['cold_cache_hit'].values())}), warm {timings['warm']:.1f} s "
              f"(features cached: {all(timings['warm_cache_hit'].values())}), val accuracy "
              f"{timings['val_accuracy']:.3f} [target < 60 s]")

if __name__ == "__main__":
    main()
