"""Does the audit catch a model that is right for the wrong reason? Models trained on planted shortcuts.

For each ``--shortcuts`` value this writes a synthetic data set with that
shortcut planted (``reportgen synth --shortcut``: none, the stain, or a mark in
the periphery, each following the label on ``--agreement`` of the patches),
trains the demo recipe on it, audits the model like any other
(``reportgen build --data-dir``) and prints one row per model: its validation
accuracy and the outcome of each page-one check meant for a shortcut
(stain robustness; the right-for-the-right-reason region test), so the
outcome matrix model x check can be read off::

    python benchmarks/bench_shortcuts.py                  # three models, about 5 minutes each on 2 cores
    python benchmarks/bench_shortcuts.py --shortcuts periphery_marker --images 20

The audit runs Grad-CAM only, without the sanity check and the stability
measurements: the checks measured here are model-level and need no more.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The page-one checks meant for a shortcut, by the report section they link to.
SHORTCUT_CHECKS = {"stain": "stain robustness", "evidence": "tumour calls decided by the centre"}


def run(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "reportgen", *args], check=True)


def audit(shortcut: str, *, agreement: float, images: int, work: Path, extra: list[str]) -> dict:
    """Write the data, train and audit; return the report document."""
    data, out = work / f"data-{shortcut}", work / f"report-{shortcut}"
    if not data.is_dir():  # a --work-dir kept from an earlier run already holds it (synth is deterministic)
        run("synth", "--out", str(data), "--shortcut", shortcut, "--shortcut-agreement", str(agreement))
    run("build", "--data-dir", str(data), "--images", str(images), "--methods", "grad_cam", "--sanity-images", "0",
        "--stability", "none", "--no-pdf", "--cache-dir", str(work / "cache"), "--out", str(out), "-q", *extra)
    return json.loads((out / "report.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shortcuts", nargs="+", default=["none", "stain", "periphery_marker"])
    parser.add_argument("--agreement", type=float, default=0.95, help="share on which the shortcut follows the label")
    parser.add_argument("--images", type=int, default=30, help="patches audited per model (default 30)")
    parser.add_argument("--work-dir", default=None, help="keep data, caches and reports here (default: a temporary one)")
    parser.add_argument("build_args", nargs="*", help="more `reportgen build` options, after --")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(args.work_dir or temporary)
        rows = []
        for shortcut in args.shortcuts:
            start = time.perf_counter()
            document = audit(shortcut, agreement=args.agreement, images=args.images, work=work, extra=args.build_args)
            # The model's own check of each section (a method's checks name their method).
            checks = {check["section"]: check for check in document["summary"]["checks"]
                      if check["method"] is None and check["section"] in SHORTCUT_CHECKS}
            accuracy = (document["model"].get("evaluation") or {}).get("accuracy")
            cells = [f"{checks[section]['outcome'].upper()} ({checks[section]['measured']})" if section in checks
                     else "not run" for section in SHORTCUT_CHECKS]
            rows.append((shortcut, accuracy, cells, time.perf_counter() - start))
        print(f"\nshortcut agreement {args.agreement:g}, {args.images} patches audited per model")
        print(" | ".join(["model (shortcut)", "validation accuracy", *SHORTCUT_CHECKS.values(), "seconds"]))
        for shortcut, accuracy, cells, seconds in rows:
            print(" | ".join([shortcut, f"{accuracy:.3f}" if accuracy is not None else "n/a", *cells, f"{seconds:.0f}"]))


if __name__ == "__main__":
    main()
