"""The PDF: A4, several pages, not blank, every image embedded, no URL fetched; size of a 30-patch report."""

import base64
import re
import shutil
import subprocess

import numpy as np
import pytest
from conftest import rendered_once
from gold.fixture import make_document, make_figures
from PIL import Image

from reportgen.judgement import page_one_checks, summarise_findings
from reportgen.report.pdf import hoist_data_uris, write_pdf
from reportgen.report.render import render_report

A4_POINTS = (595.28, 841.89)


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} is not installed; run the test set-up (`make test` installs poppler-utils and chromium)")
    return path


def _render(folder, n_images):
    document = make_document(n_images)
    document["summary"] = summarise_findings(document)
    return render_report(document, make_figures(n_images), folder, pdf=True)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The 3-patch report with its PDF, rendered once for every worker; its tests only read it."""
    return rendered_once(tmp_path_factory, "pdf-report3", lambda folder: _render(folder, 3))


def test_pdf_is_a4_with_several_pages(small):
    data = small.pdf_path.read_bytes()
    assert data.startswith(b"%PDF")
    info = subprocess.run([require("pdfinfo"), str(small.pdf_path)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert pages > 1
    size = next(line for line in info.splitlines() if line.startswith("Page size:")).split()
    assert (float(size[2]), float(size[4])) == pytest.approx(A4_POINTS, abs=0.5)
    assert small.refused_urls == ()


def test_first_pages_are_not_blank(small, tmp_path):
    subprocess.run([require("pdftoppm"), "-r", "30", "-f", "1", "-l", "3", "-png", str(small.pdf_path),
                    str(tmp_path / "page")], check=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 3
    for page in pages:
        pixels = np.asarray(Image.open(page).convert("L"), dtype=np.float64)
        assert pixels.std() > 5, page.name


def test_page_numbers_and_contents_page_references(small, tmp_path):
    text = subprocess.run([require("pdftotext"), "-f", "1", "-l", "1", str(small.pdf_path), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert re.search(r"^1 ?/ ?\d+$", text, re.MULTILINE), "no page number in the footer"
    pages = subprocess.run([require("pdftotext"), str(small.pdf_path), "-"], capture_output=True, text=True,
                           check=True).stdout.split("\f")
    reference = re.search(r"Summary \(p\. (\d+)\)", "".join(pages[:3]))
    assert reference, "the contents give no page for the summary"
    assert re.search(r"(^|\n)Summary\n", pages[int(reference.group(1)) - 1])  # its heading, maybe atop the page


def test_page_one_is_the_verdict(small):
    text = subprocess.run([require("pdftotext"), "-f", "1", "-l", "1", str(small.pdf_path), "-"],
                          capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    assert "Synthetic data:" in flat and "Checks:" in flat and "SHA-256" in flat
    first = next(row for row in page_one_checks(make_document(3)) if not row["column"])  # the model's first row
    assert f"{first['outcome'].upper()} {first['check']}" in flat


def test_page_one_holds_every_check_and_the_sign_off_and_nothing_else(small):
    pages = subprocess.run([require("pdftotext"), str(small.pdf_path), "-"], capture_output=True, text=True,
                           check=True).stdout.split("\f")
    first = " ".join(pages[0].split())
    checks = page_one_checks(make_document(3))
    for row in checks:
        if row["column"] is None:
            assert f"{row['outcome'].upper()} {row['check']}" in first, row["check"]
    for title in {row["check"].split(":")[0] for row in checks if row["column"]}:
        assert title in first
    assert "Sign-off" in first and "Decision" in first
    assert "Contents" not in first  # the contents start on the next page
    assert "Sign-off" not in " ".join(pages[1].split())


def test_every_patch_image_reaches_the_pdf(small):
    # Images are served from memory by reference (hoist_data_uris); one that failed to load would be
    # dropped with only a warning, so count them: 3 patches x (original + 3 maps), a colour scale under each
    # map and the legend's two colour bars.
    listing = subprocess.run([require("pdfimages"), "-list", str(small.pdf_path)], capture_output=True, text=True,
                             check=True).stdout.splitlines()[2:]
    sizes = sorted((int(line.split()[3]), int(line.split()[4])) for line in listing)
    assert sizes == [(96, 96)] * 12 + [(128, 10)] * (3 * 3 + 2)
    assert small.refused_urls == ()


def test_plot_text_is_text_in_the_pdf(small):
    # Axis labels and legends are set as text, not outlines: searchable, copyable, sharp at any zoom.
    text = subprocess.run([require("pdftotext"), str(small.pdf_path), "-"], capture_output=True, text=True,
                          check=True).stdout
    for label in ("fraction of pixels deleted", "fraction of pixels restored", "probability of the tracked class",
                  "confidence (predicted probability)", "perfect calibration", "Deletion (lower AUC is better)"):
        assert label in text, label


def test_hoisting_replaces_only_src_data_uris_and_shares_repeats():
    png = base64.b64encode(b"\x89PNG fake bytes").decode()
    html = (f'<p>data:image/png;base64,{png}</p><img src="data:image/png;base64,{png}" alt="a">'
            f'<img src="data:image/png;base64,{png}" alt="b"><img src="data:image/svg+xml;base64,PHN2Zy8+" alt="c">')
    short, images = hoist_data_uris(html)
    assert short.startswith(f"<p>data:image/png;base64,{png}</p>")  # text is left alone
    assert short.count('src="reportgen-embedded:0"') == 2 and 'src="reportgen-embedded:1"' in short
    assert images == {"reportgen-embedded:0": ("image/png", b"\x89PNG fake bytes"),
                      "reportgen-embedded:1": ("image/svg+xml", b"<svg/>")}


def test_pdf_renderer_fetches_nothing_but_data_uris(tmp_path):
    secret = tmp_path / "secret.png"
    Image.new("RGB", (4, 4), "red").save(secret)
    html = (f'<html><body><p>x</p><img src="file://{secret}" alt="a"><img src="{secret}" alt="b">'
            '<img src="http://127.0.0.1:9/x.png" alt="c"></body></html>')
    refused = write_pdf(html, tmp_path / "out.pdf")
    assert f"file://{secret}" in refused
    assert "http://127.0.0.1:9/x.png" in refused
    assert (tmp_path / "out.pdf").read_bytes().startswith(b"%PDF")


def test_pdf_errors_are_raised(tmp_path):
    with pytest.raises(OSError):
        write_pdf("<html><body><p>x</p></body></html>", tmp_path / "no such directory" / "report.pdf")


def test_thirty_patch_report_stays_small(tmp_path_factory, capsys):
    result = _render(tmp_path_factory.mktemp("report30"), 30)
    assert result.html_bytes < 8 * 1024 * 1024
    assert result.pdf_bytes < 15 * 1024 * 1024
    with capsys.disabled():
        print(f"\n30 patches: HTML {result.html_bytes / 1e6:.2f} MB in {result.seconds['html']:.1f} s, "
              f"PDF {result.pdf_bytes / 1e6:.2f} MB in {result.seconds['pdf']:.1f} s")


def _boxes(box):
    yield box
    for child in getattr(box, "children", []):
        yield from _boxes(child)


def test_the_sanity_table_fits_the_page_width():
    from gold.fixture import make_record
    from weasyprint import HTML

    from reportgen.pipeline.document import assemble_document
    from reportgen.pipeline.sanity import SanityOutcome
    from reportgen.report.render import render_html

    record = make_record(3)
    stages = ["backbone.fc", "backbone.layer4", "backbone.layer3", "backbone.layer2", "backbone.layer1",
              "backbone.conv1+backbone.bn1"]
    # Twelve patches, negative values and wide intervals: the widest cells the table gets.
    finals = np.linspace(-0.42, 0.75, 12)
    record.sanity = {name: SanityOutcome(stages=stages, per_image=np.tile(finals, (6, 1)) - 0.001)
                     for name in record.sanity}
    record.sanity_controls = {"sobel": SanityOutcome(stages=stages, per_image=np.ones((6, 12)))}
    html = render_html(assemble_document(record), make_figures(3))
    found = [(page, box) for page in HTML(string=html).render().pages for box in _boxes(page._page_box)
             if type(box).__name__ == "TableBox" and "sanity" in (box.element.get("class") or "")]
    assert found, "no sanity table in the PDF"
    for page, table in found:
        content_right = page._page_box.content_box_x() + page._page_box.width
        assert table.position_x + table.margin_width() <= content_right + 0.5
