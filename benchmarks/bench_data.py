"""Read throughput and memory of the PCam reader against the notebook's per-item reader.

The notebook's Dataset opened both HDF5 files for every patch (SEED.md,
mistake 3). This script writes (or reuses) a synthetic split in the real
layout and measures, in patches per second:

- sequential: one pass in order, batches of 256 (reader.iter_batches) vs.
  the naive reader over the first ``--naive-items`` patches;
- random access: batches of 64 random indices (reader.read) vs. the naive
  reader on the same random indices;

and the peak resident memory above baseline while iterating the whole split,
measured in a fresh process so that generation does not count.

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

from reportgen.data.pcam import PCAM_FILE, open_pcam
from reportgen.data.synth import write_synthetic_pcam

SPLIT = "train"


def naive_read(data_dir: Path, index: int) -> tuple[np.ndarray, int]:
    """One patch the way the notebook's Dataset.__getitem__ read it."""
    with h5py.File(data_dir / PCAM_FILE.format(split=SPLIT, part="x"), "r") as x_file:
        image = x_file["x"][index]
    with h5py.File(data_dir / PCAM_FILE.format(split=SPLIT, part="y"), "r") as y_file:
        label = int(y_file["y"][index].reshape(-1)[0])
    return image, label


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def measure_throughput(data_dir: Path, *, naive_items: int, random_batches: int, seed: int) -> dict:
    results = {}
    with open_pcam(data_dir, splits=(SPLIT,)) as data:
        split = data.split(SPLIT)
        n = len(split)
        started = time.perf_counter()
        seen = sum(len(batch) for batch in split.iter_batches(256))
        results["reader_sequential"] = rate(seen, time.perf_counter() - started)

        started = time.perf_counter()
        for index in range(min(naive_items, n)):
            naive_read(data_dir, index)
        results["naive_sequential"] = rate(min(naive_items, n), time.perf_counter() - started)

        rng = np.random.default_rng(seed)
        batches = [rng.choice(n, size=64, replace=False) for _ in range(random_batches)]
        started = time.perf_counter()
        for indices in batches:
            split.read(indices)
        results["reader_random"] = rate(64 * len(batches), time.perf_counter() - started)

        naive_indices = np.concatenate(batches)[:naive_items]
        started = time.perf_counter()
        for index in naive_indices:
            naive_read(data_dir, int(index))
        results["naive_random"] = rate(len(naive_indices), time.perf_counter() - started)
    return results


def current_rss_bytes() -> int:
    """Resident memory now (Linux /proc), else the peak so far."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_probe(data_dir: Path) -> None:
    """Child process: print resident memory before, and peak after, one full shuffled pass.

    ``peak - baseline`` is an upper bound on what the pass added (ru_maxrss is
    the peak over the process's life); tracemalloc's peak counts the numpy
    buffers the pass allocated.
    """
    with open_pcam(data_dir, splits=(SPLIT,)) as data:
        split = data.split(SPLIT)
        baseline = current_rss_bytes()
        tracemalloc.start()
        checksum = 0
        for batch in split.iter_batches(256, shuffle=True, seed=0):
            checksum += int(batch.images[:, 48, 48, 0].sum())
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    report = {"baseline": baseline, "peak": peak, "traced_peak": traced_peak, "patches": len(split), "checksum": checksum}
    print(json.dumps(report))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=32768, help="patches in the benchmark split (default 32768)")
    parser.add_argument("--dir", type=Path, default=None, help="where to write/reuse the data (default: a temp dir)")
    parser.add_argument("--naive-items", type=int, default=2000, help="patches read by the naive reader (default 2000)")
    parser.add_argument("--random-batches", type=int, default=100, help="random batches of 64 (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-probe", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_probe:
        memory_probe(args.memory_probe)
        return

    scratch = None
    data_dir = args.dir
    if data_dir is None:
        scratch = tempfile.TemporaryDirectory()
        data_dir = Path(scratch.name)
    x_path = data_dir / PCAM_FILE.format(split=SPLIT, part="x")
    existing = 0
    if x_path.is_file():
        with h5py.File(x_path, "r") as handle:
            existing = handle["x"].shape[0]
    if existing != args.patches:
        started = time.perf_counter()
        write_synthetic_pcam(data_dir, seed=args.seed, n_train=args.patches, n_valid=64, n_test=64, progress=True)
        elapsed = time.perf_counter() - started
        print(f"generated {args.patches} patches in {elapsed:.1f} s ({rate(args.patches, elapsed):.0f} patches/s)")
    else:
        print(f"reusing {args.patches} patches in {data_dir}")

    results = measure_throughput(data_dir, naive_items=args.naive_items, random_batches=args.random_batches, seed=args.seed)
    for kind in ("sequential", "random"):
        reader, naive = results[f"reader_{kind}"], results[f"naive_{kind}"]
        print(f"{kind:10}  reader {reader:9.0f} patches/s   naive {naive:7.0f} patches/s   ratio {reader / naive:6.1f}x")

    probe = subprocess.run(
        [sys.executable, __file__, "--memory-probe", str(data_dir)], check=True, capture_output=True, text=True
    )
    memory = json.loads(probe.stdout.strip().splitlines()[-1])
    extra_mib = (memory["peak"] - memory["baseline"]) / 2**20
    verdict = "ok" if extra_mib < 1024 else "OVER the 1 GiB budget"
    print(
        f"memory      iterating {memory['patches']} patches (shuffled, batch 256): "
        f"peak RSS {memory['peak'] / 2**20:.0f} MiB, at most {extra_mib:.0f} MiB above baseline ({verdict}); "
        f"numpy/Python allocations peak {memory['traced_peak'] / 2**20:.0f} MiB"
    )
    if scratch is not None:
        scratch.cleanup()


if __name__ == "__main__":
    main()
