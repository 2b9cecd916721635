"""The rendered HTML: gold file, escaping, self-containment, decodable images."""

import base64
import io
import os
import re
import statistics
from pathlib import Path
from xml.etree import ElementTree

import matplotlib.text
import numpy as np
import pytest
from gold.fixture import make_document, make_figures
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from reportgen.judgement import summarise_findings
from reportgen.report.figures import (
    CURVES_SIZE_MM,
    RELIABILITY_SIZE_MM,
    colour_lookup,
    curves_figure,
    curves_uri,
    encode_png,
    overlay,
    reliability_figure,
    svg_data_uri,
)
from reportgen.report.guide import GUIDE_SIZE_MM, guide_figure, guide_uri, reading_guide
from reportgen.report.render import render_html

GOLD = Path(__file__).parent / "gold" / "report.html"
DATA_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)?")
SVG = "{http://www.w3.org/2000/svg}"
VERSION_CELL = re.compile(r"(<tr><th>(?:reportgen|torch|captum|torchvision|numpy|lime|grad-cam|weasyprint)</th><td>)[^<]*(</td>)")


def _document(n_images=3, **changes):
    document = make_document(n_images)
    document.update(changes)
    document["summary"] = summarise_findings(document)
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
    document["images"][1]["slide_id"] = attack
    html = render_html(document, make_figures(3))
    # The one script is the report's own gallery filter.
    assert html.lower().count("<script") == 1 and "<script>\n// Gallery filters" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("&lt;script&gt;") >= 5


def test_the_stylesheet_is_inlined_verbatim(html):
    css = (Path(__file__).parents[1] / "templates" / "report.css").read_text(encoding="utf-8")
    assert css in html


def test_report_is_self_contained(html):
    assert "<link" not in html and "@import" not in html
    assert re.findall(r"<script\b[^>]*>", html) == ["<script>"]  # the gallery filter, inline
    for attribute in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert attribute.startswith(("data:", "#")), attribute
    assert not re.search(r"url\((?!['\"]?data:)", html)
    assert "http://" not in html and "https://" not in html


def test_every_image_has_alt_text_and_decodes(html):
    images = re.findall(r"<img\b[^>]*>", html)
    n_patches, n_methods = 3, 3
    # per patch the original, one overlay and one colour scale per method; two curve plots, reliability, the
    # confusion matrix, the two agreement heatmaps, the reading guide's curve and the legend's two colour bars
    assert len(images) == n_patches * (1 + 2 * n_methods) + 9
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
            assert root.tag == f"{SVG}svg" and _points(root.get("width")) > 0 and _points(root.get("height")) > 0
            assert root.findall(f".//{SVG}path") and root.findall(f".//{SVG}text")
    # the seven plots are vector graphics; the patches and the colour bars are pixels
    assert kinds.count("svg+xml") == 7 and kinds.count("png") == n_patches * (1 + 2 * n_methods) + 2


def _points(length: str) -> float:
    assert length.endswith("pt"), length
    return float(length[:-2])


def _svg(uri: str) -> ElementTree.Element:
    assert uri.startswith("data:image/svg+xml;base64,")
    return ElementTree.fromstring(base64.b64decode(uri.split(",", 1)[1]))


CURVES = {"Method <A>": [1.0, 0.5, 0.0], "B": [0.0, 0.5, 1.0]}
REFERENCES = {"Random map": [0.5, 0.5, 0.5]}
RELIABILITY = {"bin_edges": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], "accuracy": [0.5, None, 0.7, 0.9, 0.95],
               "confidence": [0.55, None, 0.75, 0.85, 0.97], "count": [4, 0, 5, 0, 30]}


def _curves_figure():
    return curves_figure(CURVES, references=REFERENCES, xlabel="fraction of pixels deleted",
                         ylabel="probability of the tracked class", title="Deletion & more")


def test_curve_plot_draws_every_curve_in_data_coordinates():
    axes = _curves_figure().axes[0]
    lines = {line.get_label(): line for line in axes.get_lines()}
    assert set(lines) == {"Method <A>", "B", "Random map"}
    for name, curve in {**CURVES, **REFERENCES}.items():
        assert np.allclose(lines[name].get_xdata(), [0.0, 0.5, 1.0])  # steps + 1 points over [0, 1]
        assert np.allclose(lines[name].get_ydata(), curve)
    assert lines["Method <A>"].get_linestyle() == "-" and lines["Random map"].get_linestyle() != "-"
    assert axes.get_xlim() == (0.0, 1.0) and axes.get_ylim() == (0.0, 1.0)
    # text stays text in the SVG, escaped: labels reach the PDF's text layer and cannot inject markup
    texts = [text.text for text in _svg(curves_uri(CURVES, references=REFERENCES, xlabel="fraction of pixels deleted",
                                                    ylabel="probability", title="Deletion & more")).iter(f"{SVG}text")]
    assert {"Method <A>", "Deletion & more", "probability", "fraction of pixels deleted"} <= set(texts)


def test_reliability_plot_has_one_bar_per_filled_bin_and_the_diagonal():
    axes = reliability_figure(RELIABILITY).axes[0]
    # bins 1, 3 and 5 have an accuracy and a count; bin 4's accuracy has no patches behind it
    bars = sorted((bar.get_x() + bar.get_width() / 2, bar.get_height()) for bar in axes.patches)
    assert np.allclose(bars, [(0.55, 0.5), (0.75, 0.7), (0.95, 0.95)])
    (diagonal,) = axes.get_lines()
    # perfect calibration is accuracy = confidence over the bins' range
    assert np.allclose(diagonal.get_xdata(), [0.5, 1.0]) and np.allclose(diagonal.get_ydata(), [0.5, 1.0])
    assert axes.get_xlim() == (0.5, 1.0)


def test_the_reading_guide_names_the_runs_substrates_and_shows_the_first_methods_curve():
    document = _document()
    document["settings"]["substrates"] = {"deletion": "black", "insertion": "mean"}
    terms = dict(reading_guide(document))
    assert list(terms) == ["Deletion", "Insertion", "Reference maps"]
    assert "replaced by black" in terms["Deletion"] and "restored onto the data set's mean colour" in terms["Insertion"]
    for meaning in terms.values():
        assert len(re.findall(r"[.!?](?:\s|$)", meaning)) == 3, meaning  # three sentences each
    first = next(iter(document["methods"].values()))
    legend = [text for text in _svg(guide_uri(document)).iter(f"{SVG}text")]
    assert any(first["title"] in "".join(text.itertext()) for text in legend)
    del document["baselines"]["random"]
    assert guide_uri(document) is None


def _print_width_mm(css: str, selector: str) -> float:
    print_rules = css[css.index("@media print"):]
    return float(re.search(re.escape(selector) + r" \{ width: ([\d.]+)mm; \}", print_rules).group(1))


def _drawn(figure):
    """Lay the figure out and return a renderer that measures it (in pixels, like ``figure.bbox``)."""
    figure.set_dpi(300)  # fine enough that glyph hinting does not widen text beyond what is printed
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return canvas.get_renderer()


@pytest.mark.parametrize("make, size_mm, selector", [
    (_curves_figure, CURVES_SIZE_MM, "figure.plot img"),
    (lambda: reliability_figure(RELIABILITY), RELIABILITY_SIZE_MM, "figure.plot.small img"),
    (lambda: guide_figure([1.0, 0.4, 0.3], [1.0, 0.8, 0.5], method_title="Integrated Gradients"), GUIDE_SIZE_MM,
     "figure.plot.guide-plot img"),
])
def test_plots_are_legible_at_their_printed_size(make, size_mm, selector):
    figure = make()
    # drawn at the width the PDF prints them, so font sizes are sizes on paper
    css = (Path(__file__).parents[1] / "templates" / "report.css").read_text(encoding="utf-8")
    assert _print_width_mm(css, selector) == size_mm[0]
    root = _svg(svg_data_uri(figure))
    assert _points(root.get("width")) == pytest.approx(size_mm[0] / 25.4 * 72, abs=0.01)
    assert _points(root.get("height")) == pytest.approx(size_mm[1] / 25.4 * 72, abs=0.01)
    renderer = _drawn(figure)
    texts = [text for text in figure.findobj(matplotlib.text.Text) if text.get_visible() and text.get_text()]
    assert texts and min(text.get_fontsize() for text in texts) >= 8
    axes, (legend,) = figure.axes[0], figure.legends
    assert axes.get_xlabel() and axes.get_ylabel()
    legend_box, axes_box = legend.get_window_extent(renderer), axes.get_tightbbox(renderer)
    assert not legend_box.overlaps(axes.get_window_extent(renderer))  # never over the data
    assert legend_box.y1 <= axes_box.y0 + 0.5  # below the axis labels, not over them
    # everything inside the figure: nothing cut off at the image's edge
    for box in (legend_box, axes_box):
        assert box.x0 >= -0.5 and box.y0 >= -0.5 and box.x1 <= figure.bbox.x1 + 0.5 and box.y1 <= figure.bbox.y1 + 0.5


def test_long_titles_move_the_legend_to_one_column():
    titles = {f"A rather long method title {number}": [1.0, 0.0] for number in range(3)}
    figure = curves_figure(titles, references={}, xlabel="x", ylabel="y", title="t")
    renderer = _drawn(figure)
    (legend,) = figure.legends
    assert len({round(text.get_window_extent(renderer).x0) for text in legend.get_texts()}) == 1
    assert legend.get_window_extent(renderer).width <= figure.bbox.width


def test_plots_are_reproducible():
    assert curves_uri(CURVES, references=REFERENCES, xlabel="x", ylabel="y", title="t") == curves_uri(
        CURVES, references=REFERENCES, xlabel="x", ylabel="y", title="t")
    svg = base64.b64decode(svg_data_uri(reliability_figure(RELIABILITY)).split(",", 1)[1]).decode("utf-8")
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg  # no date, no version


def test_colour_lookup_is_the_matplotlib_map_rounded():
    from matplotlib import colormaps

    viridis = colour_lookup("viridis")
    assert viridis.shape == (256, 3) and viridis.dtype == np.uint8
    assert tuple(viridis[0]) == (68, 1, 84) and tuple(viridis[-1]) == (253, 231, 37)
    assert np.array_equal(colour_lookup("magma")[-1], np.round(np.array(colormaps["magma"](1.0)[:3]) * 255))


def test_sections_follow_the_document():
    document = _document(sanity=None, substrate_rankings=None, substrate_scope=None)
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
                              "evidence": [{"quantity": "centre_mass", "label": "share of attribution in the centre 32x32",
                                            "method": "grad_cam", "title": "Grad-CAM", "previous": 0.34,
                                            "current": 0.05, "change": -0.29}],
                              "shared_patches": 0, "patches": [], "new_warnings": ["something new"],
                              "resolved_warnings": []}
    html = render_html(document, make_figures(3))
    assert 'id="gates"' in html and "FAILED" in html and "accuracy is 0.8600" in html
    assert "Changes since the previous report" in html and "something new" in html and "+0.060" in html
    assert "Where the evidence moved" in html
    assert "<td>Grad-CAM</td><td>share of attribution in the centre 32x32</td><td>0.340</td><td>0.050</td><td>-0.290</td>" in html


def test_figure_arrays_must_match_the_document():
    figures = make_figures(2)
    with pytest.raises(ValueError, match="hold 2 patches but the document lists 3"):
        render_html(_document(), figures)
    figures = make_figures(3, methods=("grad_cam", "lime"))
    with pytest.raises(ValueError, match="no display map for method.*integrated_gradients"):
        render_html(_document(), figures)


def test_overlay_is_the_colour_map_blended_over_the_patch():
    image = np.full((12, 12, 3), 100, np.uint8)
    blended = overlay(image, np.zeros((12, 12)), alpha=1.0)
    # viridis at 0 is dark purple (68, 1, 84)
    assert tuple(blended[0, 0]) == (68, 1, 84)
    assert tuple(overlay(image, np.ones((12, 12)), alpha=0.0)[0, 0]) == (100, 100, 100)
    mask = np.zeros((12, 12), np.uint8)
    mask[1:3, 1:3] = 1
    outlined = overlay(image, np.zeros((12, 12)), alpha=0.0, mask=mask)
    assert (outlined[1:3, 1:3] == 255).all() and (outlined[0] == 100).all()
    # The centre third's border (rows and columns 4 to 7 of 12) is drawn in the square's colour.
    assert tuple(outlined[4, 4]) == tuple(outlined[7, 5]) == (0, 255, 255) and tuple(outlined[5, 5]) == (100, 100, 100)


def test_png_encoding_is_reproducible():
    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert encode_png(rgb) == encode_png(rgb.copy())
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode_png(rgb)))), rgb)


def test_each_patch_states_its_superpixels_and_distinct_perturbations(html):
    document = _document()
    extras = document["methods"]["lime"]["extras"]
    for index, image in enumerate(document["images"]):
        superpixels = extras["n_superpixels"]["per_image"][index]
        distinct = extras["distinct_perturbations"]["per_image"][index]
        facts = f"LIME superpixels: {superpixels:g} &middot; LIME distinct perturbations: {distinct:g}"
        section = html.split(f"<h4>Patch <code>{image['patch_id']}</code></h4>", 1)[1].split("<h4>", 1)[0]
        assert facts in section, image["patch_id"]


def _section(html: str, anchor: str) -> str:
    return html.split(f'<section id="{anchor}">', 1)[1].split("</section>", 1)[0]


def test_few_superpixels_are_stated_once_and_pointed_at_where_the_maps_are_shown(html):
    document = _document()
    counts = document["methods"]["lime"]["extras"]["n_superpixels"]["per_image"]
    sentence = f"LIME divides a patch into only {statistics.median(counts):g} superpixels"
    assert html.count(sentence) == 1
    label = re.search(rf'<tr id="warning-(W\d+)"[^>]*><td>W\d+</td><td>.*?</td><td>{sentence}', html).group(1)
    assert f'href="#warning-{label}"' in _section(html, "patches")
    assert f'href="#warning-{label}"' in _section(html, "methods")
    assert "Superpixels per patch, mean" in _section(html, "methods")


def test_enough_superpixels_are_not_called_coarse():
    document = _document()
    extras = document["methods"]["lime"]["extras"]["n_superpixels"]
    extras.update(mean=40.0, ci95=[40.0, 40.0], per_image=[40.0] * len(extras["per_image"]))
    document["summary"] = summarise_findings(document)
    rendered = render_html(document, make_figures(3))
    assert "LIME divides a patch into only" not in rendered
    assert "Superpixels per patch, mean</th><td>40.000" in _section(rendered, "methods")


def test_method_tables_show_the_unsigned_completeness_delta(html):
    extras = _document()["methods"]["integrated_gradients"]["extras"]
    methods = _section(html, "methods")
    for key, label in (("abs_completeness_delta",
                        "Completeness gap |sum of attributions - (F(x) - F(baseline))| (logit), mean"),
                       ("relative_completeness_delta", "Completeness gap relative to |F(x) - F(baseline)|, mean")):
        assert f"<tr><th>{label}</th><td>{extras[key]['mean']:.3f} [" in methods


def test_every_section_in_the_contents_is_in_the_body_without_sanity():
    document = _document()
    document["sanity"] = None
    document["evidence"] = {"rule": "r", "substrate": "mean", "limit": 0.2, "tumour_calls": 6,
                            "lost_without_periphery": {"mean": 0.0, "ci95": [0.0, 0.0], "n": 6},
                            "kept_without_centre": {"mean": 0.0, "ci95": [0.0, 0.0], "n": 6}, "decision": "centre",
                            "uniform_centre_share": 1024 / 9216, "uniform_mask_share_tp": None,
                            "periphery_only_negatives": None, "periphery_only_called_tumour": None, "methods": {},
                            "per_image": {"without_periphery": [], "without_centre": []}}
    document["summary"] = summarise_findings(document)
    rendered = render_html(document, make_figures(3))
    anchors = re.findall(r'<li><a href="#([\w-]+)">', rendered.split('<nav class="contents"', 1)[1].split("</nav>")[0])
    assert "evidence" in anchors and "sanity" not in anchors
    for anchor in anchors:
        assert f'<section id="{anchor}"' in rendered, anchor
