"""Run ``python -m reportgen`` as a child process and measure it alone: wall time and its own peak memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def checkpoint_or_demo(given: str | None, work: Path) -> str:
    """``given``, or the demo model written to ``work/demo.pt`` (trained, or read from the default cache)."""
    if given is not None:
        return given
    checkpoint = str(work / "demo.pt")
    subprocess.run([sys.executable, "-m", "reportgen", "train", "--out", checkpoint, "-q"], check=True)
    return checkpoint


def run_reportgen(*args: str) -> tuple[float, float]:
    """(wall seconds, peak resident memory in MiB of that child alone) of ``python -m reportgen ARGS``.

    ``os.wait4`` returns the child's own resource usage; ``RUSAGE_CHILDREN`` would give the largest of every
    child so far.
    """
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "reportgen", *args])
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"reportgen {' '.join(args)} exited with {child.returncode}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024
