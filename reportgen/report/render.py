"""Render a report document to ``report.html`` and ``report.pdf``.

Build the data, then render it: :func:`reportgen.report.context.build_context`
turns the document into strings and data URIs, and one Jinja2 template places
them: page one and the contents, then one partial per section
(``templates/sections/``) in the order of :func:`reportgen.judgement.sections.sections`.
The template environment autoescapes everything and fails on any undefined
name, so a value the document lacks is a loud error, not a blank.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jinja2
import markupsafe

from reportgen.data.label_region import applies
from reportgen.report.context import build_context
from reportgen.report.figures import FigureInputs, map_scales, patch_figures
from reportgen.report.gallery import gallery_positions
from reportgen.report.pdf import write_pdf
from reportgen.report.sections import shown_sections
from reportgen.schema import ReportDocument

logger = logging.getLogger(__name__)

TEMPLATE = "report.html.j2"
STYLESHEET = "report.css"


@dataclass(frozen=True)
class RenderResult:
    """Where the report went, how big it is and how long it took.

    Attributes
    ----------
    html_path : path of report.html.
    pdf_path : path of report.pdf, or ``None`` when ``pdf=False``.
    html_bytes, pdf_bytes : file sizes in bytes (``pdf_bytes`` 0 without a PDF).
    seconds : wall time per stage: ``"html"`` (figures included) and ``"pdf"``.
    refused_urls : URLs the PDF renderer asked for and was refused (empty when self-contained).
    """

    html_path: Path
    pdf_path: Path | None
    html_bytes: int
    pdf_bytes: int
    seconds: dict[str, float]
    refused_urls: tuple[str, ...] = ()


def _load_template(name: str) -> str:
    # importlib.resources works for the installed wheel (reportgen.templates) and editable installs alike.
    return resources.files("reportgen.templates").joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def template_environment() -> jinja2.Environment:
    """The Jinja2 environment: autoescaping on, undefined names fail, filters registered here once."""
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: _load_template(name)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "j2"), default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["verdict_class"] = lambda passed: "pass" if passed else "fail"
    return environment


def _stylesheet() -> markupsafe.Markup:
    # The CSS is a packaged file, not user input: mark it safe so autoescaping keeps its quotes and ">".
    return markupsafe.Markup(_load_template(STYLESHEET))


def render_html(document: ReportDocument, figures: FigureInputs) -> str:
    """The complete, self-contained report HTML.

    Parameters
    ----------
    document : report document, schema_version 1, ``summary`` filled.
    figures : images and raw maps in the order of ``document.images``.

    Returns
    -------
    str
    """
    methods = list(document.methods)
    figures.check(n_images=len(document.images), methods=methods)
    signed = {name for name, record in document.methods.items() if record.signed}
    positions = gallery_positions(document)
    squares = applies(document.data.label_region)
    context = build_context(document, patch_figures(figures, methods, signed=signed, positions=positions,
                                                    label_square=squares),
                            map_scales(figures, methods, signed=signed))
    environment = template_environment()
    return environment.get_template(TEMPLATE).render(report=context,
                                                     sections=shown_sections(context, document, environment),
                                                     stylesheet=_stylesheet())


def render_stored(document: ReportDocument, stored, out_dir: Path, pdf: bool) -> RenderResult:
    """:func:`render_report` of a build's document, drawing the patches, masks and each method's maps from the
    build's store (:class:`reportgen.pipeline.patch_store.StoredPatches`, read one patch at a time)."""
    figures = FigureInputs(images=stored.images, maps={name: stored.maps[name] for name in document.methods},
                           masks=stored.masks)
    return render_report(document, figures, out_dir, pdf=pdf)


def render_report(document: ReportDocument, figures: FigureInputs, out_dir: Path, *, pdf: bool = True) -> RenderResult:
    """Write ``report.html`` (and ``report.pdf``) for a report document into ``out_dir``.

    Parameters
    ----------
    document : report document, schema_version 1, with ``summary`` filled.
    figures : images (N, 96, 96, 3) uint8 and per-method raw maps (N, 96, 96).
    out_dir : existing or new directory; report.html and report.pdf in it are overwritten.
    pdf : also write the A4 PDF, default True.

    Returns
    -------
    RenderResult
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    html = render_html(document, figures)
    html_path = out_dir / "report.html"
    html_path.write_text(html, encoding="utf-8")
    rendered = time.perf_counter()
    seconds = {"html": rendered - started, "pdf": 0.0}
    pdf_path, refused = None, []
    if pdf:
        pdf_path = out_dir / "report.pdf"
        refused = write_pdf(html, pdf_path)
        seconds["pdf"] = time.perf_counter() - rendered
    logger.info("rendered HTML in %.2f s, PDF in %.2f s", seconds["html"], seconds["pdf"])
    return RenderResult(html_path=html_path, pdf_path=pdf_path, html_bytes=html_path.stat().st_size,
                        pdf_bytes=pdf_path.stat().st_size if pdf_path else 0, seconds=seconds,
                        refused_urls=tuple(refused))
