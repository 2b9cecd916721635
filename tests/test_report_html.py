"""The rendered HTML: gold file, escaping, self-containment, decodable images."""

import base64
import gc
import io
import os
import re
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from PIL import Image

from gold.fixture import make_document, make_figures
from reportgen.report.figures import FigureInputs, colour_lookup, curves_uri, encode_png, overlay, reliability_uri
from reportgen.report import render
from reportgen.report.render import render_html, render_report
from reportgen.report.summary import summarise

GOLD = Path(__file__).parent / "gold" / "report.html"
DATA_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)?")
SVG = "{http://www.w3.org/2000/svg}"
VERSION_CELL = re.compile(r"(<tr><th>(?:reportgen|torch|captum|torchvision|numpy|lime|grad-cam|weasyprint)</th><td>)[^<]*(</td>)")


def _document(n_images=3, **changes):
    document = make_document(n_images)
    document.update(changes)
    document["summary"] = summarise(document)
    return document


def scrub(html: str) -> str:
    """Remove what may differ between machines: PNG bytes (zlib and FreeType builds), dates, versions."""
    html = DATA_URI.sub("data:image/png;base64,SCRUBBED", html)
    html = TIMESTAMP.sub("TIMESTAMP", html)
    return VERSION_CELL.sub(r"\1VERSION\2", html)


@pytest.fixture(scope="module")
def html():
    return render_html(_document(), make_figures(3))


def test_html_matches_the_gold_file(html):
    actual = scrub(html)
    if os.environ.get("REPORTGEN_UPDATE_GOLD") == "1":
        GOLD.write_text(actual, encoding="utf-8")
    expected = GOLD.read_text(encoding="utf-8") if GOLD.exists() else None
    if actual != expected:
        written = GOLD.with_name("report.actual.html")
        written.write_text(actual, encoding="utf-8")
        pytest.fail(f"rendered report differs from {GOLD}; the actual output is in {written}: review it with "
                    f"`diff {GOLD} {written}` and, if the change is intended, rerun with REPORTGEN_UPDATE_GOLD=1")


def test_rendering_is_deterministic(html):
    assert render_html(_document(), make_figures(3)) == html


def test_user_controlled_values_are_escaped():
    attack = "<script>alert(1)</script>"
    document = _document(title=attack)
    document["model"]["name"] = attack
    document["provenance"]["command_line"] = f"reportgen build --out '{attack}'"
    document["provenance"]["config"]["output"] = attack
    document["data"]["data_dir"] = attack
    document["images"][0]["note"] = attack
    html = render_html(document, make_figures(3))
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("&lt;script&gt;") >= 5


def test_the_stylesheet_is_inlined_verbatim(html):
    css = (Path(__file__).parents[1] / "templates" / "report.css").read_text(encoding="utf-8")
    assert css in html


def test_report_is_self_contained(html):
    assert "<link" not in html and "@import" not in html and "<script" not in html
    for attribute in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert attribute.startswith(("data:", "#")), attribute
    assert not re.search(r"url\((?!['\"]?data:)", html)
    assert "http://" not in html and "https://" not in html


def test_every_image_has_alt_text_and_decodes(html):
    images = re.findall(r"<img\b[^>]*>", html)
    n_patches, n_methods = 3, 3
    # per patch the original and one overlay per method, plus two curve plots, reliability, colour bar
    assert len(images) == n_patches * (1 + n_methods) + 4
    kinds = []
    for tag in images:
        alt = re.search(r'alt="([^"]+)"', tag)
        assert alt and alt.group(1).strip(), tag[:80]
        kind, payload = re.search(r'src="data:image/(png|svg\+xml);base64,([^"]+)"', tag).groups()
        kinds.append(kind)
        if kind == "png":
            image = Image.open(io.BytesIO(base64.b64decode(payload)))
            image.load()
            assert image.width > 0 and np.asarray(image).std() > 0
        else:
            root = ElementTree.fromstring(base64.b64decode(payload))
            assert root.tag == f"{SVG}svg" and int(root.get("width")) > 0 and int(root.get("height")) > 0
            assert root.findall(f".//{SVG}polyline") and root.findall(f".//{SVG}text")
    # the three plots are vector graphics; the patches and the colour bar are pixels
    assert kinds.count("svg+xml") == 3 and kinds.count("png") == n_patches * (1 + n_methods) + 1


def _svg(uri: str) -> ElementTree.Element:
    assert uri.startswith("data:image/svg+xml;base64,")
    return ElementTree.fromstring(base64.b64decode(uri.split(",", 1)[1]))


def test_curve_plot_draws_every_curve_in_data_coordinates():
    uri = curves_uri({"Method <A>": [1.0, 0.5, 0.0], "B": [0.0, 0.5, 1.0]},
                     references={"Random map": [0.5, 0.5, 0.5]}, ylabel="probability", title="Deletion & more")
    root = _svg(uri)
    lines = root.findall(f".//{SVG}polyline")
    assert len(lines) == 3
    reference, first, second = ([tuple(map(float, point.split(","))) for point in line.get("points").split()]
                                for line in lines)
    assert reference[0][1] == reference[1][1] == reference[2][1] and lines[0].get("stroke-dasharray")
    # y grows downwards in SVG: the falling curve ends lower on the page than it starts
    assert first[0][1] < first[-1][1] and second[0][1] > second[-1][1]
    assert first[0][0] == second[0][0] < first[1][0] < first[2][0] == second[2][0]
    assert first[0][1] == second[-1][1] and first[-1][1] == second[0][1]
    texts = [text.text for text in root.iter(f"{SVG}text")]
    assert "Method <A>" in texts and "Deletion & more" in texts and "probability" in texts


def test_reliability_plot_has_one_bar_per_filled_bin():
    reliability = {"bin_edges": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], "accuracy": [0.5, None, 0.7, 0.9, 0.95],
                   "confidence": [0.55, None, 0.75, 0.85, 0.97], "count": [4, 0, 5, 0, 30]}
    root = _svg(reliability_uri(reliability))
    # a white background, one rect per filled bin with an accuracy and a count, the frame, the legend's two rects
    bars = [rect for rect in root.iter(f"{SVG}rect") if rect.get("fill") == "#0072B2"]
    assert len(bars) == 3 + 1  # bins 1, 3 and 5, plus the legend swatch
    heights = sorted(float(rect.get("height")) for rect in bars[:-1])
    assert heights[0] < heights[1] < heights[2]


def test_built_in_viridis_equals_matplotlib():
    from matplotlib import colormaps

    expected = np.round(colormaps["viridis"](np.linspace(0.0, 1.0, 256))[:, :3] * 255).astype(np.uint8)
    assert np.array_equal(colour_lookup("viridis"), expected)
    assert np.array_equal(colour_lookup("magma")[-1], np.round(np.array(colormaps["magma"](1.0)[:3]) * 255))


def test_sections_follow_the_document():
    document = _document(sanity=None, substrate_rankings=None)
    document["comparison"] = None
    html = render_html(document, make_figures(3))
    assert 'id="sanity"' not in html and 'id="substrates"' not in html and 'id="changes"' not in html
    assert "No model-randomisation sanity check was run." in html
    assert 'href="#sanity"' not in html and 'href="#faithfulness"' in html


def test_gates_and_changes_are_rendered():
    document = _document()
    document["gates"] = [{"expression": "accuracy<0.9", "passed": False, "detail": "accuracy is 0.8600"}]
    document["comparison"] = {"previous_generated_at": "x", "previous_title": "old", "compatible": True,
                              "note": None, "model": {"previous_sha256": "cd", "current_sha256": "ab", "changed": True},
                              "accuracy": {"previous": 0.8, "current": 0.86, "change": 0.06}, "methods": [],
                              "shared_patches": 0, "patches": [], "new_warnings": ["something new"],
                              "resolved_warnings": []}
    html = render_html(document, make_figures(3))
    assert 'id="gates"' in html and "FAILED" in html and "accuracy is 0.8600" in html
    assert "Changes since the previous report" in html and "something new" in html and "+0.060" in html


def test_figure_arrays_must_match_the_document():
    figures = make_figures(2)
    with pytest.raises(ValueError, match="hold 2 patches but the document lists 3"):
        render_html(_document(), figures)
    figures = make_figures(3, methods=("grad_cam", "lime"))
    with pytest.raises(ValueError, match="no display map for method.*integrated_gradients"):
        render_html(_document(), figures)


def test_overlay_is_the_colour_map_blended_over_the_patch():
    image = np.full((4, 4, 3), 100, np.uint8)
    blended = overlay(image, np.zeros((4, 4)), alpha=1.0)
    # viridis at 0 is dark purple (68, 1, 84)
    assert tuple(blended[0, 0]) == (68, 1, 84)
    assert tuple(overlay(image, np.ones((4, 4)), alpha=0.0)[0, 0]) == (100, 100, 100)
    mask = np.zeros((4, 4), np.uint8)
    mask[1:3, 1:3] = 1
    outlined = overlay(image, np.zeros((4, 4)), alpha=0.0, mask=mask)
    assert (outlined[1:3, 1:3] == 255).all() and (outlined[0] == 100).all()


def test_png_encoding_is_reproducible():
    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert encode_png(rgb) == encode_png(rgb.copy())
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode_png(rgb)))), rgb)


def test_rendering_freezes_older_objects_and_leaves_the_collector_as_it_was(tmp_path, monkeypatch):
    seen = []
    original = render.render_html

    def recording(document, figures):
        seen.append(gc.get_freeze_count())
        return original(document, figures)

    monkeypatch.setattr(render, "render_html", recording)
    assert gc.get_freeze_count() == 0
    render_report(_document(), make_figures(3), tmp_path / "a", pdf=False)
    assert seen[0] > 0 and gc.get_freeze_count() == 0
    gc.freeze()  # a caller that manages freezing itself keeps its frozen set
    try:
        render_report(_document(), make_figures(3), tmp_path / "b", pdf=False)
        assert gc.get_freeze_count() > 0  # not unfrozen behind the caller's back
    finally:
        gc.unfreeze()
