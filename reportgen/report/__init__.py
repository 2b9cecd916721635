"""The report: build plain data from the report document, then render HTML and PDF.

Public API::

    document["summary"] = summarise_findings(document)
    document["comparison"] = compare_reports(document, load_previous_report(path))
    document["gates"] = evaluate_gates([parse_gate(text) for text in fail_if], document)
    result = render_report(document, FigureInputs(images, maps, masks), out_dir, pdf=True)

The document is the JSON contract written as report.json (schema_version 1);
templates never see tensors, so nothing here needs torch.
"""

from reportgen.report.compare import compare_reports, load_previous_report
from reportgen.report.figures import FigureInputs
from reportgen.report.gates import Gate, evaluate_gates, parse_gate
from reportgen.report.render import RenderResult, render_html, render_report
from reportgen.report.summary import summarise_findings

__all__ = [
    "FigureInputs", "Gate", "RenderResult", "compare_reports", "evaluate_gates", "load_previous_report",
    "parse_gate", "render_html", "render_report", "summarise_findings",
]
