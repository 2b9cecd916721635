"""Per-patch time and peak memory of a cold build as the number of patches grows (on this machine's CPU).

Each size is its own ``reportgen build`` process with an empty cache, on one checkpoint (the demo
model, trained or read from the default cache once, first).  The default options keep every step
that scales with the patches (explanations, the three curves of every map, the region-removal
test, the substrate drift, the slides) and leave out the fixed-size ones, so the figures show how
cost and memory grow with N; pass more options after ``--``.  Prints, per size, seconds, seconds
per patch, the process's peak resident memory and its ratio to the smallest size's::

    python benchmarks/bench_scale.py --sizes 30 300 1000
    python benchmarks/bench_scale.py --sizes 30 300 -- --methods grad_cam,lime
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from child import checkpoint_or_demo, run_reportgen

#: Options that keep the steps that grow with N and drop the fixed-size ones (sanity on its first 10 patches,
#: stain robustness on its first 10, stability); overridable after ``--``.
DEFAULT_OPTIONS = ["--methods", "grad_cam", "--steps", "20", "--sanity-images", "0", "--stain-images", "0",
                   "--stability", "none", "--no-pdf", "-q"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 300, 1000])
    parser.add_argument("--checkpoint", default=None, help="default: the demo model, trained or read from the cache")
    parser.add_argument("build_args", nargs="*", help="options replacing the defaults, after --")
    args = parser.parse_args()
    options = args.build_args or DEFAULT_OPTIONS
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        checkpoint = checkpoint_or_demo(args.checkpoint, work)
        for size in args.sizes:
            seconds, peak = run_reportgen("build", "--images", str(size), "--checkpoint", checkpoint, *options,
                                          "--out", str(work / f"report-{size}"), "--cache-dir", str(work / f"c-{size}"))
            rows.append((size, seconds, peak))
    print(f"\noptions: {' '.join(options)}")
    print("patches | seconds | seconds per patch | peak RSS (MiB) | RSS / smallest size's")
    for size, seconds, peak in rows:
        print(f"{size} | {seconds:.1f} | {seconds / size:.2f} | {peak:.0f} | {peak / rows[0][2]:.2f}")


if __name__ == "__main__":
    main()
