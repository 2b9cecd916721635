"""The report: turn a finished report document into HTML and PDF; nothing here decides an outcome.

Public API::

    result = render_report(document, FigureInputs(images, maps, masks), out_dir, pdf=True)

The document (report.json, schema_version 1) already holds every judgement
(:mod:`reportgen.judgement`); templates never see tensors, so nothing here needs torch.
"""

from reportgen.report.figures import FigureInputs
from reportgen.report.render import RenderResult, render_html, render_report

__all__ = ["FigureInputs", "RenderResult", "render_html", "render_report"]
