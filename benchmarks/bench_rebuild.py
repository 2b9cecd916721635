"""Time a rebuild with a warm cache: what regenerating a report after a template or text change costs.

Runs ``reportgen build`` twice in subprocesses on the same cache: the first run fills the cache
(explanations, curves, sanity checks, predictions and the trained model), the second is the
timed rebuild, end to end including interpreter start-up::

    python benchmarks/bench_rebuild.py --images 30
    python benchmarks/bench_rebuild.py --images 4 --lime-samples 50 --steps 10   # smoke run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _build(out: Path, extra: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "reportgen", "build", "--out", str(out), "-q", *extra], check=True)
    return time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--cache-dir", default=None, help="default: the user's reportgen cache")
    parser.add_argument("--no-pdf", action="store_true")
    args, extra = parser.parse_known_args(argv)
    extra = ["--images", str(args.images), *extra]
    if args.cache_dir:
        extra += ["--cache-dir", args.cache_dir]
    if args.no_pdf:
        extra.append("--no-pdf")
    out = Path(tempfile.mkdtemp(prefix="reportgen-rebuild-")) / "report"
    first = _build(out, extra)
    second = _build(out, extra)
    timings = json.loads((out / "report.json").read_text())["provenance"]["timings"]
    print(f"first build (fills the cache): {first:.1f} s")
    print(f"rebuild with a warm cache: {second:.1f} s")
    print("rebuild stages (s): " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in timings.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
