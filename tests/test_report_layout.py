"""Nothing overflows the PDF page, whatever the names: long titles, layers, paths and 8 methods.

The PDF is laid out by WeasyPrint and its boxes are checked against the page's
content box; its text (pdftotext) must hold each table's last column header
and every sanity outcome, which a table running off the page would lose.
"""

import copy
import dataclasses
import html as html_lib
import re
import subprocess

import pytest
from conftest import rendered_once
from gold.fixture import _masks, make_figures, make_record
from test_report_pdf import require

from reportgen.metrics.agreement import agreement_matrix
from reportgen.pipeline.document import assemble_document
from reportgen.pipeline.score import localisation_scores
from reportgen.report.figures import FigureInputs
from reportgen.report.render import render_report

LONG_LAYER = "backbone.layer4.1.conv2.a_submodule_with_a_long_name_inside_a_wrapper_model"
N_METHODS = 8


def _stress_record():
    """The fixture's record with five more methods (long names and titles), a long layer, a long path, a long title."""
    record = make_record(3)
    extra_maps = {}
    for number in range(N_METHODS - len(record.methods)):
        source = record.methods[["integrated_gradients", "grad_cam", "lime"][number % 3]]
        name = f"variant_number_{number}_of_an_attribution_method_with_a_long_registry_name"
        record.methods[name] = dataclasses.replace(
            source, name=name, title=f"An attribution method variant {number} with a rather long display title",
            settings=dict(source.settings, target_layer=LONG_LAYER), maps=source.maps[:, ::-1].copy(),
            # A method's own warnings start with its own registry name, as every explainer writes them.
            warnings=[warning.replace(f"{source.name}: ", f"{name}: ", 1) for warning in source.warnings])
        record.scores.curves[name] = copy.deepcopy(record.scores.curves[source.name])
        for condition in record.stain.conditions.values():
            condition.similarity[name] = copy.deepcopy(condition.similarity[source.name])
            condition.deletion[name] = condition.deletion[source.name].copy()
        extra_maps[name] = record.methods[name].maps
    record.methods["grad_cam"].settings = dict(record.methods["grad_cam"].settings, target_layer=LONG_LAYER)
    maps = {name: method.maps for name, method in record.methods.items()}
    record.scores.agreement = agreement_matrix(maps)
    record.scores.notes = [f"Patch note {i}." for i in range(3)]
    record.scores.localisation.update(localisation_scores(extra_maps, _masks(3), seed=0))
    long_path = "/very/long/path/" + "nested_folder_with_a_long_name/" * 8
    record.config = dataclasses.replace(record.config, title="An explainability audit report " * 6, data_dir=long_path)
    record.data = dataclasses.replace(record.data, data_dir=long_path)
    record.model_info["path"] = "/models/" + "a_checkpoint_file_with_a_very_long_name_" * 4 + ".pt"
    return record


def _render_stress(folder):
    record = _stress_record()
    document = assemble_document(record)
    base = make_figures(3)
    figures = FigureInputs(images=base.images, masks=base.masks,
                           maps={name: method.display_maps for name, method in record.methods.items()})
    return document, render_report(document, figures, folder, pdf=True)


@pytest.fixture(scope="module")
def stress(tmp_path_factory):
    """(document, render result) of the stress record, rendered once for every worker; its tests only read it."""
    return rendered_once(tmp_path_factory, "stress-report", _render_stress)


def _boxes(box):
    yield box
    for child in getattr(box, "children", []):
        yield from _boxes(child)


def test_no_box_is_wider_than_the_page(stress):
    from weasyprint import HTML

    _, result = stress
    html = result.html_path.read_text(encoding="utf-8")
    pages = HTML(string=html).render().pages
    assert len(pages) > 5
    overflowing = []
    for number, page in enumerate(pages, start=1):
        left = page._page_box.content_box_x()
        right = left + page._page_box.width
        for box in _boxes(page._page_box):
            if not hasattr(box, "position_x") or box.element is None or box is page._page_box:
                continue
            # The border box is what is drawn; a margin past the edge draws nothing.
            x, width = box.border_box_x(), box.border_width()
            if x + width > right + 0.5 or x < left - 0.5:
                overflowing.append(f"page {number}: <{box.element.tag} class={box.element.get('class')!r}> "
                                   f"{x + width - right:+.1f} px")
    assert not overflowing, "\n".join(sorted(set(overflowing))[:20])


def test_every_tables_last_column_and_every_sanity_outcome_reach_the_pdf_text(stress):
    document, result = stress
    text = " ".join(subprocess.run([require("pdftotext"), str(result.pdf_path), "-"], capture_output=True,
                                   text=True, check=True).stdout.split())
    html = result.html_path.read_text(encoding="utf-8")
    headers = re.findall(r"<thead><tr>.*?<th>((?:(?!</th>).)*)</th></tr></thead>", html)
    assert len(headers) >= 5, headers
    for header in headers:
        words = html_lib.unescape(re.sub(r"<[^>]+>", " ", header)).split()
        assert " ".join(words) in text, f"the last column {' '.join(words)!r} is missing from the PDF"
    outcomes = [record["outcome"] for group in ("methods", "controls")
                for record in (document["sanity"].get(group) or {}).values()]
    assert outcomes
    for name, record in document["sanity"]["methods"].items():
        assert record["outcome"] in text
    assert text.count(LONG_LAYER[:30]) >= 1


def _body(html: str) -> str:
    """The HTML before the appendix."""
    return html.split('<section id="appendix"', 1)[0]


def test_no_registry_key_raw_json_or_local_path_outside_the_appendix(stress):
    document, result = stress
    html = result.html_path.read_text(encoding="utf-8")
    body = _body(html)
    for name in document["methods"]:
        assert not re.search(rf"\b{name}\b", body), name
    for key in ("batch_size", "input_size", "n_steps", "target_layer", "num_samples", "dataset_mean"):
        assert key not in body, key
    assert "{&#34;" not in body and '{"' not in body
    # The appendix keeps the raw keys ...
    assert all(re.search(rf"\b{name}\b", html) for name in document["methods"])
    # ... and no page shows where a file lies on the disk; report.json keeps the paths.
    pdf_text = subprocess.run([require("pdftotext"), str(result.pdf_path), "-"], capture_output=True, text=True,
                              check=True).stdout
    for path in ("/very/long/path", "/models/", "/data/pcam-synthetic"):
        assert path not in html and path not in pdf_text, path
    assert document["model"]["checkpoint"]["path"].startswith("/models/")
    assert document["data"]["data_dir"].startswith("/very/long/path")


def test_each_warning_is_stated_once_and_sections_point_at_it(stress):
    document, result = stress
    html = result.html_path.read_text(encoding="utf-8")
    records = document["summary"]["warning_records"]
    assert records
    for number, record in enumerate(records, start=1):
        assert html.count(html_lib.escape(record["text"], quote=True)) == 1, record["text"]
        assert f'id="warning-W{number}"' in html
        if record["method"]:
            assert f'href="#warning-W{number}"' in _body(html).split('<section id="methods">', 1)[1]
