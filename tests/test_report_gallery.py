"""The gallery: errors first in labelled groups, filters that work offline, and a readable scale on every map."""

from __future__ import annotations

import re

import numpy as np
import pytest
from gold.fixture import make_document, make_figures
from test_report_browser import run_chromium

from reportgen.judgement import summarise_findings
from reportgen.report.figures import CLIP_PERCENTILE, colour_lookup, map_scale, overlay
from reportgen.report.render import render_html


def _html(n_images=8, slides=("slide-a", "slide-b")):
    document = make_document(n_images)
    for index, image in enumerate(document["images"]):
        image["slide_id"] = slides[index % len(slides)]
    document["summary"] = summarise_findings(document)
    return document, render_html(document, make_figures(n_images))


def _articles(html: str) -> list[str]:
    return re.findall(r"<article class=\"patch\"[^>]*>", html)


def test_a_signed_map_is_centred_at_zero_and_clipped_at_the_stated_percentile():
    values = np.linspace(-1.0, 2.0, 100 * 100).reshape(100, 100)
    scale = map_scale(values, signed=True)
    assert scale.limit == pytest.approx(np.percentile(np.abs(values), CLIP_PERCENTILE))
    assert scale.clipped == pytest.approx((np.abs(values) > scale.limit).mean())
    positions = scale.positions(np.array([-10.0, -scale.limit, 0.0, scale.limit / 2, 10.0]))
    np.testing.assert_allclose(positions, [0.0, 0.0, 0.5, 0.75, 1.0])
    unsigned = map_scale(np.abs(values), signed=False)
    np.testing.assert_allclose(unsigned.positions(np.array([0.0, unsigned.limit, 99.0])), [0.0, 1.0, 1.0])
    assert map_scale(np.zeros((4, 4)), signed=True).positions(np.zeros((4, 4)))[0, 0] == 0.5


def test_positive_and_negative_weight_get_opposite_colours():
    image = np.full((12, 12, 3), 128, np.uint8)
    values = np.zeros((12, 12))
    values[:, :4], values[:, 8:] = -1.0, 1.0
    scale = map_scale(values, signed=True)
    drawn = overlay(image, scale.positions(values), alpha=1.0, colour_map=scale.colour_map)
    negative, zero, positive = drawn[1, 1].astype(int), drawn[1, 5].astype(int), drawn[1, 10].astype(int)
    assert negative[2] > negative[0] + 50 and positive[0] > positive[2] + 50  # blue against red
    assert tuple(zero) == tuple(colour_lookup("RdBu_r")[128]) and min(zero) > 230  # nearly white at 0


def test_every_map_has_its_own_scale_with_its_numbers():
    document, html = _html(3, slides=("s",))
    figures = make_figures(3)
    ordered = {image["patch_id"]: index for index, image in enumerate(document["images"])}
    for article in html.split("<article")[1:]:
        patch_id = re.search(r"<h4>Patch <code>([^<]+)</code>", article).group(1)
        ends = re.findall(r'<span class="ends">(.*?)</span></span>', article)
        assert len(ends) == 3
        for name, labels in zip(document["methods"], ends):
            limit = np.percentile(np.abs(figures.maps[name][ordered[patch_id]]), CLIP_PERCENTILE)
            shown = re.findall(r"<span>([^<]+)</span>", labels)
            expected = ["\u2212" + f"{limit:.2g}", "0", f"+{limit:.2g}"] if name == "lime" else ["0", f"{limit:.2g}"]
            assert shown == expected, (patch_id, name)


def test_the_legend_explains_the_square_the_outline_and_both_colour_scales():
    _, html = _html(3)
    legend = html.split('<div class="legend">', 1)[1].split("</div>", 1)[0]
    assert "Cyan square: the centre 32×32 region" in legend and "White outline: the ground-truth tumour mask" in legend
    assert "never negative: Integrated Gradients, Grad-CAM." in legend
    assert "Diverging colours for signed maps: LIME. Red is evidence for the explained class, blue evidence against" \
        in legend
    assert f"the {CLIP_PERCENTILE:g}th percentile of that map&#39;s |attribution|" in legend


def test_groups_come_in_error_first_order_with_their_counts():
    document, html = _html(8)
    groups = re.findall(r'<h3 class="group" data-stratum="(\w+)">[^<]*\((\d+)\)</h3>', html)
    strata = [image["stratum"] for image in document["images"]]
    assert [stratum for stratum, _ in groups] == [s for s in ("FN", "FP", "TP", "TN") if s in strata]
    assert all(int(count) == strata.count(stratum) for stratum, count in groups)
    assert [re.search(r'data-stratum="(\w+)"', a).group(1) for a in _articles(html)] == \
        sorted(strata, key=["FN", "FP", "TP", "TN"].index)


def test_without_script_the_filters_are_hidden_and_every_patch_is_listed():
    _, html = _html(8)
    assert '<form class="gallery-filter" hidden>' in html
    assert len(_articles(html)) == 8 and not any(" hidden" in article for article in _articles(html))
    script = html.split("<script>", 1)[1].split("</script>", 1)[0]
    assert "http" not in script and "fetch" not in script and "innerHTML" not in script
    assert '<option value="slide-a">slide-a</option>' in html


def _dom(tmp_path, html: str, fragment: str = "") -> str:
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    completed, _ = run_chromium(page.as_uri() + fragment, tmp_path / "profile", "--dump-dom")
    return completed.stdout


def test_the_filters_select_a_stratum_and_a_slide_in_the_browser(tmp_path):
    document, html = _html(8, slides=("slide-a", "slide-a", "slide-b"))
    stratum, slide = "TP", next(image["slide_id"] for image in document["images"] if image["stratum"] == "TP")
    dom = _dom(tmp_path, html, f"#patches?stratum={stratum}&slide={slide}")
    wanted = [image for image in document["images"] if image["stratum"] == stratum and image["slide_id"] == slide]
    articles = _articles(dom)
    shown = [a for a in articles if "hidden" not in a]
    assert len(articles) == 8 and len(shown) == len(wanted) > 0
    assert len(wanted) < len([image for image in document["images"] if image["slide_id"] == slide])
    assert len(wanted) < len([image for image in document["images"] if image["stratum"] == stratum])
    assert all(f'data-stratum="{stratum}"' in a and f'data-slide="{slide}"' in a for a in shown)
    assert f"{len(wanted)} of 8 patches shown" in dom
    assert re.search(r'<form class="gallery-filter"(?! hidden)', dom)
    hidden_groups = re.findall(r'<h3 class="group" data-stratum="(\w+)" hidden', dom)
    assert stratum not in hidden_groups and len(hidden_groups) == len({i["stratum"] for i in document["images"]}) - 1
    everything = _dom(tmp_path, html)
    assert all("hidden" not in a for a in _articles(everything)) and "8 of 8 patches shown" in everything


def test_the_pdf_lists_every_patch_without_the_filters(tmp_path):
    import subprocess

    from test_report_pdf import require

    from reportgen.report.render import render_report

    document = make_document(3)
    document["summary"] = summarise_findings(document)
    result = render_report(document, make_figures(3), tmp_path, pdf=True)
    text = subprocess.run([require("pdftotext"), str(result.pdf_path), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Stratum" not in text.split("Explained patches")[-1].split("Limitations")[0].split("Patch ")[0]
    assert all(f"Patch {image['patch_id']}" in text for image in document["images"])


def test_the_check_and_verdict_tables_filter_rows_by_outcome_in_the_browser(tmp_path):
    document, html = _html(8)
    # Without script every row is listed and the filters stay hidden.
    assert '<form class="row-filter" data-table="checks" hidden>' in html
    from reportgen.judgement import page_one_checks

    # The filter reads the rows of the model and the run; each method's checks are cells of the method table.
    outcomes = [check["outcome"] for check in page_one_checks(document) if not check["column"]]
    assert "pass" in outcomes and len(set(outcomes)) > 1
    # Clear the PASS box the way a reader would, then read the DOM.
    script = ('<script>addEventListener("load", function () {'
              ' var box = document.querySelector("form[data-table=checks] input[value=pass]");'
              ' box.checked = false; box.dispatchEvent(new Event("change", {bubbles: true})); });</script>')
    dom = _dom(tmp_path, html.replace("</body>", script + "</body>"))
    table = dom.split('id="checks"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*data-outcome=\"(\w+)\"[^>]*>", table)
    hidden = re.findall(r"<tr[^>]*data-outcome=\"(\w+)\"[^>]*hidden[^>]*>", table)
    assert sorted(rows) == sorted(outcomes) and sorted(hidden) == sorted(o for o in outcomes if o == "pass")
    assert f"{len(outcomes) - outcomes.count('pass')} of {len(outcomes)} rows shown" in dom
    assert re.search(r'<form class="row-filter" data-table="verdict-table"(?! hidden)', dom)


def test_the_gallery_shows_the_first_patches_in_its_order_and_says_how_many():
    document = make_document(8)
    for index, image in enumerate(document["images"]):
        image["stratum"] = ("TN", "FN", "TP", "FP")[index % 4]
    document["settings"]["gallery"] = 3
    document["summary"] = summarise_findings(document)
    html = render_html(document, make_figures(8))
    shown = re.findall(r'<article class="patch"[^>]*data-stratum="(\w+)"', html)
    assert shown == ["FN", "FN", "FP"]  # errors first: both false negatives, then the first false positive
    assert "The gallery shows 3 of the 8 explained patches" in html
    assert "(1 of 2 shown)" in html and "(2)" in html
    document["settings"]["gallery"] = 60
    assert len(_articles(render_html(document, make_figures(8)))) == 8
