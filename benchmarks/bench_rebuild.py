"""Time a rebuild with a warm cache: what regenerating a report after a template or text change costs.

Runs ``reportgen build`` in subprocesses on the same cache: the first run fills the cache
(explanations, curves, sanity checks, predictions and the trained model), the next
``--repeat`` runs are the timed rebuilds, end to end including interpreter start-up.
Then it splits the time: imports (a separate ``import reportgen.pipeline``), the cached
stages (report.json's provenance timings), and HTML and PDF rendering (from the
render log line of one more, logged rebuild)::

    python benchmarks/bench_rebuild.py --images 30
    python benchmarks/bench_rebuild.py --images 4 --lime-samples 50 --steps 10   # smoke run
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RENDER_LOG = re.compile(r"rendered HTML in ([\d.]+) s, PDF in ([\d.]+) s")


def _build(out: Path, extra: list[str], *, quiet: bool = True) -> tuple[float, str]:
    command = [sys.executable, "-m", "reportgen", "build", "--out", str(out), *(["-q"] if quiet else []), *extra]
    started = time.perf_counter()
    completed = subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - started, completed.stderr


#: The pipeline imported as ``reportgen build`` does: collector paused, heap frozen at exit.
IMPORT_AS_BUILD = ("import atexit, reportgen.cli as cli; atexit.register(cli._freeze_at_exit)\n"
                   "with cli._pipeline_imported(): pass")


def _import_seconds(repeat: int) -> float:
    """Median wall time of a fresh interpreter importing the pipeline (torch, torchvision, scipy, ...)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", IMPORT_AS_BUILD], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3, help="timed rebuilds (the median is reported), default 3")
    parser.add_argument("--cache-dir", default=None, help="default: the user's reportgen cache")
    parser.add_argument("--no-pdf", action="store_true")
    args, extra = parser.parse_known_args(argv)
    extra = ["--images", str(args.images), *extra]
    if args.cache_dir:
        extra += ["--cache-dir", args.cache_dir]
    if args.no_pdf:
        extra.append("--no-pdf")
    out = Path(tempfile.mkdtemp(prefix="reportgen-rebuild-")) / "report"
    first, _ = _build(out, extra)
    rebuilds = [_build(out, extra)[0] for _ in range(args.repeat)]
    timings = json.loads((out / "report.json").read_text())["provenance"]["timings"]
    _, log = _build(out, extra, quiet=False)
    rendered = RENDER_LOG.search(log)
    imports = _import_seconds(args.repeat)

    median = statistics.median(rebuilds)
    stages = {name: seconds for name, seconds in timings.items() if name != "render"}
    render = timings.get("render", 0.0)
    print(f"first build (fills the cache): {first:.1f} s")
    print(f"rebuild with a warm cache: {median:.1f} s (median of {len(rebuilds)}: "
          + ", ".join(f"{seconds:.1f}" for seconds in rebuilds) + ")")
    print(f"  imports (import reportgen.pipeline in a fresh interpreter): {imports:.1f} s")
    print(f"  cached stages: {sum(stages.values()):.1f} s ("
          + ", ".join(f"{name} {seconds:.2f}" for name, seconds in stages.items()) + ")")
    if rendered:
        print(f"  render: {render:.1f} s (HTML {float(rendered.group(1)):.2f} s, PDF {float(rendered.group(2)):.2f} s, "
              "waiting for the PDF worker, which imported WeasyPrint during the imports)")
    else:
        print(f"  render: {render:.1f} s")
    print(f"  rest (approximate: start-up, report.json, attributions.npz, moving into place): "
          f"{median - imports - sum(stages.values()) - render:.1f} s")
    sizes = ", ".join(f"{path.name} {path.stat().st_size / 1e6:.2f} MB"
                      for path in (out / "report.html", out / "report.pdf") if path.exists())
    print(f"  sizes: {sizes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
