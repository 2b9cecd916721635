"""Benchmark a build in one process against the same build as shards: 2 shards merged, and 2 Ray workers.

Every build runs as its own ``reportgen`` process with an empty cache of its own, on the same
checkpoint, data and options, so each figure is a cold build; the demo model is trained (or
read from the default cache) once, first, and given to every build as ``--checkpoint``.  Prints
wall-clock seconds, seconds per patch, each process's peak resident memory (the largest of the
shard processes for the sharded builds; Ray's workers are not counted) and whether every number of
the sharded reports equals the one-process report (``benchmarks/same_numbers.py``)::

    python benchmarks/bench_shards.py --images 12
    python benchmarks/bench_shards.py --images 30 -- --methods grad_cam,lime
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from child import checkpoint_or_demo, run_reportgen

HERE = Path(__file__).resolve().parent


def _same(first: Path, second: Path) -> str:
    done = subprocess.run([sys.executable, str(HERE / "same_numbers.py"), str(first / "report.json"),
                           str(second / "report.json")], capture_output=True, text=True)
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else done.stderr.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--checkpoint", default=None, help="default: the demo model, trained or read from the cache")
    parser.add_argument("build_args", nargs="*", help="more `reportgen build` options, after --")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        checkpoint = checkpoint_or_demo(args.checkpoint, work)
        common = ["--images", str(args.images), "--checkpoint", checkpoint, "--no-pdf", "-q", *args.build_args]
        rows = []
        seconds, peak = run_reportgen("build", *common, "--out", str(work / "one"), "--cache-dir", str(work / "c-one"))
        rows.append(("one process", seconds, peak, "reference"))
        shard_seconds, shard_peak = 0.0, 0.0
        for index in (1, 2):
            # Run one after the other, as two machines would run side by side: the figure is the slower one's.
            spent, peak = run_reportgen("build", *common, "--shard", f"{index}/2", "--out", str(work / f"s{index}"),
                               "--cache-dir", str(work / f"c-s{index}"))
            shard_seconds, shard_peak = max(shard_seconds, spent), max(shard_peak, peak)
        merge_seconds, merge_peak = run_reportgen("merge", str(work / "s1"), str(work / "s2"), "--out", str(work / "merged"),
                                         "--cache-dir", str(work / "c-merge"), "--no-pdf", "-q")
        rows.append(("2 shards, the slower one, then the merge", shard_seconds + merge_seconds,
                     max(shard_peak, merge_peak), _same(work / "one", work / "merged")))
        environment_threads = os.environ.get("OMP_NUM_THREADS", "unset")
        seconds, peak = run_reportgen("build", *common, "--executor", "ray", "--shards", "2", "--out", str(work / "ray"),
                             "--cache-dir", str(work / "c-ray"))
        rows.append(("Ray, 2 workers (local instance)", seconds, peak, _same(work / "one", work / "ray")))
    print(f"\n{args.images} patches, OMP_NUM_THREADS {environment_threads}, {os.cpu_count()} CPUs")
    print("build | seconds | seconds per patch | peak RSS (MiB) | numbers")
    for name, seconds, peak, same in rows:
        print(f"{name} | {seconds:.1f} | {seconds / args.images:.2f} | {peak:.0f} | {same}")


if __name__ == "__main__":
    main()
