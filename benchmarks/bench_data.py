"""Read throughput and memory of the PCam reader against the notebook's per-item reader.

The notebook's Dataset opened both HDF5 files for every patch
(docs/metrics.md#data-read-a-chunk-at-a-time). This script writes (or reuses) a synthetic split in the real
layout (chunks of 32 rows, gzip level 1) and measures, in patches per second:

- sequential: one pass over the split in file order, and the block-shuffled
  pass training makes (``iter_batches(shuffle=True)``), both in batches of
  ``--batch-size`` (training's 64), against the per-item reader over the first
  ``--naive-items`` patches in the same order;
- random: single random patches (``read([i])``) and batches of 64 random
  indices (``read``), against the per-item reader on the same indices in the
  same order;
- the data-loading share of training: full-recipe steps (fp32,
  channels_last, augmentation, Adam) fed by the shuffled pass, timing the wait
  for each batch apart from the step; one timed window spans exactly one
  block read, as an epoch does (conversion to float and augmentation count
  as the step, as in train.py);
- the peak resident memory above baseline while iterating the whole split,
  in a fresh process so that generation does not count.

The per-item reader runs only while the reader's files are closed: HDF5 shares
an already open file, chunk cache included, with every later open of the same
file in the process, which made per-item reads look several times faster than
they are.

Usage: python benchmarks/bench_data.py [--patches 32768] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import torch

from reportgen.data import BLOCK_SIZE, PCAM_FILE, as_float_tensor, open_pcam
from reportgen.data.synth import write_synthetic_pcam
from reportgen.model.augment import augment_batch
from reportgen.model.network import PCamClassifier
from reportgen.model.settings import DEMO_TRAIN_SETTINGS

SPLIT = "train"
RANDOM_BATCH = 64


def naive_read(data_dir: Path, index: int) -> tuple[np.ndarray, int]:
    """One patch the way the notebook's Dataset.__getitem__ read it."""
    with h5py.File(data_dir / PCAM_FILE.format(split=SPLIT, part="x"), "r") as x_file:
        image = x_file["x"][index]
    with h5py.File(data_dir / PCAM_FILE.format(split=SPLIT, part="y"), "r") as y_file:
        label = int(y_file["y"][index].reshape(-1)[0])
    return image, label


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def measure_reader(split, *, batch_size: int, random_indices: np.ndarray) -> dict:
    """Patches/s of the reader: in-order pass, shuffled pass, random batches, random singles."""
    n = len(split)
    results = {}

    def one_pass(**options) -> None:
        if sum(len(batch) for batch in split.iter_batches(batch_size, **options)) != n:
            sys.exit("iter_batches did not cover the split")

    results["sequential"] = rate(n, timed(lambda: one_pass(shuffle=False)))
    results["training"] = rate(n, timed(lambda: one_pass(shuffle=True, seed=0)))
    batches = np.split(random_indices, len(random_indices) // RANDOM_BATCH)
    results["random_batch"] = rate(len(random_indices), timed(lambda: [split.read(batch) for batch in batches]))
    results["random"] = rate(len(random_indices), timed(lambda: [split.read([index]) for index in random_indices]))
    return results


def measure_naive(data_dir: Path, *, naive_items: int, random_indices: np.ndarray) -> dict:
    """Patches/s of the per-item reader on the first patches in file order and on the random indices."""
    sequential = range(naive_items)
    return {
        "sequential": rate(len(sequential), timed(lambda: [naive_read(data_dir, index) for index in sequential])),
        "random": rate(len(random_indices), timed(lambda: [naive_read(data_dir, int(index)) for index in random_indices])),
    }


def check_same_patches(split, data_dir: Path, indices: np.ndarray) -> None:
    """Both readers must return the same patch and label, or the comparison means nothing."""
    batch = split.read(indices)
    for position, index in enumerate(indices):
        image, label = naive_read(data_dir, int(index))
        if not np.array_equal(image, batch.images[position]) or label != batch.labels[position]:
            sys.exit(f"reader and per-item reader disagree at patch {index}")


def training_share(split, *, batch_size: int, steps: int, warmup: int = 2) -> dict:
    """Seconds spent waiting for batches and in training steps, over ``steps`` timed steps."""
    torch.manual_seed(0)
    model = PCamClassifier().train().to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=DEMO_TRAIN_SETTINGS.lr)
    generator = torch.Generator().manual_seed(0)
    batches = split.iter_batches(batch_size, shuffle=True, seed=0)
    read_s = step_s = 0.0
    images = 0
    for step in range(warmup + steps):
        started = time.perf_counter()
        batch = next(batches)
        loaded = time.perf_counter()
        inputs = augment_batch(as_float_tensor(batch.images), generator=generator)
        inputs = inputs.contiguous(memory_format=torch.channels_last)
        labels = torch.as_tensor(batch.labels)
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(inputs), labels).backward()
        optimizer.step()
        if step >= warmup:
            read_s += loaded - started
            step_s += time.perf_counter() - loaded
            images += len(batch)
    return {"read_s": read_s, "step_s": step_s, "images": images}


def current_rss_bytes() -> int:
    """Resident memory now (Linux /proc), else the peak so far."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss() -> None:
    """Restart this process's peak-RSS count (Linux >= 4.0; elsewhere a no-op)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def peak_rss_bytes() -> int:
    """This process's own peak RSS (VmHWM), else ru_maxrss.

    ru_maxrss is not used where VmHWM exists: Linux carries it over exec, so
    a child started by subprocess reports its parent's peak when that is higher.
    """
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_probe(data_dir: Path, batch_size: int) -> None:
    """Child process: print resident memory before, and peak after, one full shuffled pass.

    ``peak - baseline`` is what the pass added at its worst; tracemalloc's
    peak counts the numpy and Python buffers the pass allocated (HDF5's chunk
    caches and the allocator's slack are in the RSS only).
    """
    with open_pcam(data_dir, splits=(SPLIT,)) as data:
        split = data.split(SPLIT)
        reset_peak_rss()
        baseline = current_rss_bytes()
        tracemalloc.start()
        checksum = 0
        for batch in split.iter_batches(batch_size, shuffle=True, seed=0):
            checksum += int(batch.images[:, 48, 48, 0].sum())
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        peak = peak_rss_bytes()
    report = {"baseline": baseline, "peak": peak, "traced_peak": traced_peak, "patches": len(split), "checksum": checksum}
    print(json.dumps(report))


def ensure_data(data_dir: Path, patches: int, seed: int) -> None:
    x_path = data_dir / PCAM_FILE.format(split=SPLIT, part="x")
    existing = 0
    if x_path.is_file():
        with h5py.File(x_path, "r") as handle:
            existing = handle["x"].shape[0]
    if existing == patches:
        print(f"reusing {patches} patches in {data_dir}")
        return
    elapsed = timed(lambda: write_synthetic_pcam(data_dir, seed=seed, n_train=patches, n_valid=64, n_test=64, progress=True))
    print(f"generated {patches} patches in {elapsed:.1f} s ({rate(patches, elapsed):.0f} patches/s)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=32768, help="patches in the benchmark split (default 32768)")
    parser.add_argument("--dir", type=Path, default=None, help="where to write/reuse the data (default: a temp dir)")
    parser.add_argument("--batch-size", type=int, default=DEMO_TRAIN_SETTINGS.batch_size,
                        help=f"batch of the passes and training steps (default {DEMO_TRAIN_SETTINGS.batch_size}, training's)")
    parser.add_argument("--naive-items", type=int, default=2000, help="patches read by the per-item reader in order (default 2000)")
    parser.add_argument("--random-batches", type=int, default=20, help=f"random batches of {RANDOM_BATCH} (default 20)")
    parser.add_argument("--train-steps", type=int, default=None,
                        help="timed training steps (default: one read block, 1024 / batch size; 0 skips)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-probe", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_probe:
        memory_probe(args.memory_probe, args.batch_size)
        return

    scratch = None
    data_dir = args.dir
    if data_dir is None:
        scratch = tempfile.TemporaryDirectory()
        data_dir = Path(scratch.name)
    ensure_data(data_dir, args.patches, args.seed)

    rng = np.random.default_rng(args.seed)
    random_indices = rng.choice(args.patches, size=RANDOM_BATCH * args.random_batches, replace=False)
    naive_items = min(args.naive_items, args.patches)
    train_steps = max(1, BLOCK_SIZE // args.batch_size) if args.train_steps is None else args.train_steps
    with open_pcam(data_dir, splits=(SPLIT,)) as data:
        split = data.split(SPLIT)
        check_same_patches(split, data_dir, np.concatenate([[0, args.patches - 1], random_indices[:6]]))
        reader = measure_reader(split, batch_size=args.batch_size, random_indices=random_indices)
        share = training_share(split, batch_size=args.batch_size, steps=train_steps) if train_steps else None
    # The reader's files are closed now, so no per-item open shares its handle or chunk cache.
    naive = measure_naive(data_dir, naive_items=naive_items, random_indices=random_indices)

    rows = [
        ("sequential", reader["sequential"], naive["sequential"], f"file order, batches of {args.batch_size}"),
        ("training", reader["training"], naive["sequential"], "block-shuffled pass as training reads it"),
        ("random", reader["random"], naive["random"], f"{len(random_indices)} single random patches"),
        ("random x64", reader["random_batch"], naive["random"], f"the same indices in batches of {RANDOM_BATCH}"),
    ]
    print(f"per-item reader: {naive_items} patches in file order, {len(random_indices)} random; "
          "both HDF5 files opened and closed per patch")
    for kind, ours, theirs, what in rows:
        print(f"{kind:11} reader {ours:7.0f} patches/s   per-item {theirs:5.0f} patches/s   "
              f"ratio {ours / theirs:5.1f}x   ({what})")
    verdict = "met" if reader["sequential"] / naive["sequential"] >= 20 else "MISSED"
    print(f"target      sequential ratio >= 20x: {verdict}")

    if share is not None:
        images, read_s, step_s = share["images"], share["read_s"], share["step_s"]
        fraction = read_s / (read_s + step_s)
        # The per-item reader would wait images / rate seconds for the same batches.
        naive_s = images / naive["sequential"]
        naive_fraction = naive_s / (naive_s + step_s)
        verdict = "met" if fraction < 0.05 else "MISSED"
        print(
            f"epoch share {train_steps} training steps of {args.batch_size} (fp32, channels_last): "
            f"{read_s:.2f} s reading, {step_s:.1f} s in steps ({rate(images, read_s + step_s):.1f} images/s); "
            f"reading is {fraction:.2%} of the epoch (target < 5%: {verdict}); "
            f"with the per-item reader it would be {naive_fraction:.1%}"
        )

    probe = subprocess.run(
        [sys.executable, __file__, "--memory-probe", str(data_dir), "--batch-size", str(args.batch_size)],
        check=True, capture_output=True, text=True,
    )
    memory = json.loads(probe.stdout.strip().splitlines()[-1])
    extra_mib = (memory["peak"] - memory["baseline"]) / 2**20
    verdict = "ok" if extra_mib < 1024 else "OVER the 1 GiB budget"
    print(
        f"memory      iterating {memory['patches']} patches (shuffled, batch {args.batch_size}): "
        f"peak RSS {memory['peak'] / 2**20:.0f} MiB, at most {extra_mib:.0f} MiB above baseline ({verdict}); "
        f"numpy/Python allocations peak {memory['traced_peak'] / 2**20:.0f} MiB"
    )
    if scratch is not None:
        scratch.cleanup()


if __name__ == "__main__":
    main()
