"""Render time and size of a report with N explained patches and three methods.

Usage: ``python benchmarks/bench_render.py [--images 30] [--repeat 1] [--no-pdf]``.
Prints HTML size, PDF size and the seconds spent on each; uses the fixture
document of the gold-file test, so no model or data set is needed.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
from pathlib import Path

from reportgen.judgement import summarise_findings
from reportgen.report.render import render_report

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "gold" / "fixture.py"


def load_fixture():
    spec = importlib.util.spec_from_file_location("report_fixture", FIXTURE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-pdf", action="store_true")
    args = parser.parse_args()
    fixture = load_fixture()
    document = fixture.make_document(args.images)
    document["summary"] = summarise_findings(document)
    figures = fixture.make_figures(args.images)
    html_times, pdf_times = [], []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeat):
            result = render_report(document, figures, Path(folder), pdf=not args.no_pdf)
            html_times.append(result.seconds["html"])
            pdf_times.append(result.seconds["pdf"])
    print(f"patches: {args.images}, methods: {len(document['methods'])}, repeats: {args.repeat}")
    print(f"report.html: {result.html_bytes / 1e6:.2f} MB, median {statistics.median(html_times):.2f} s")
    if not args.no_pdf:
        print(f"report.pdf:  {result.pdf_bytes / 1e6:.2f} MB, median {statistics.median(pdf_times):.2f} s")


if __name__ == "__main__":
    main()
