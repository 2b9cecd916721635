"""Page one's check table: each outcome follows from a decision the document holds, failures first."""

import pytest
from gold.fixture import make_document, make_figures

from reportgen.judgement import page_one_checks
from reportgen.judgement.check import outcome_counts as check_counts
from reportgen.judgement.gates import evaluate_gates, parse_gate
from reportgen.report.render import render_html


@pytest.fixture
def document():
    return make_document(30)


def _set_against_references(document, method, metric, outcomes):
    for record in document["verdicts"]:
        if (record["method"], record["metric"]) == (method, metric) and record["against"] in outcomes:
            record["outcome"] = outcomes[record["against"]]


def _row(checks, name):
    return next(check for check in checks if check["check"] == name)


@pytest.mark.parametrize("outcomes, expected", [
    ({"deletion_auc": "better", "srg": "better"}, "pass"),
    ({"deletion_auc": "better", "srg": "worse"}, "fail"),
    ({"deletion_auc": "not_distinguishable", "srg": "better"}, "inconclusive"),
    ({"deletion_auc": "too_few", "srg": "too_few"}, "inconclusive"),
])
def test_a_methods_faithfulness_check_reads_its_primary_claims_against_the_random_map(document, outcomes, expected):
    for metric, outcome in outcomes.items():
        _set_against_references(document, "grad_cam", metric, {"random": outcome})
    # The secondary claims do not move page one.
    _set_against_references(document, "grad_cam", "insertion_auc", {"random": "worse", "sobel": "worse"})
    row = _row(page_one_checks(document), "Grad-CAM: faithful to the model")
    assert row["outcome"] == expected and row["method"] == "grad_cam" and row["column"] == "faithfulness"
    assert bool(row["decide"]) == (expected == "inconclusive")
    if outcomes["deletion_auc"] == "too_few":
        assert "--images" in row["decide"]


@pytest.mark.parametrize("interval, expected", [
    ((0.83, 0.90), "pass"), ((0.60, 0.78), "fail"), ((0.76, 0.90), "inconclusive"), ((0.80, 0.90), "pass"),
])
def test_accuracy_passes_only_when_its_whole_interval_is_at_or_above_the_limit(document, interval, expected):
    document["model"]["evaluation"]["intervals"]["accuracy"]["ci95"] = list(interval)
    row = _row(page_one_checks(document), "Validation accuracy")
    assert row["outcome"] == expected and row["interval"] == list(interval) and row["limit"] == 0.8
    assert ("a larger evaluation split" in row["decide"]) == (expected == "inconclusive")


def test_sanity_outcomes_follow_the_interval_and_a_control_that_passed_fails_the_check(document):
    methods = document["sanity"]["methods"]
    methods["lime"].update(final=0.45, ci95=[0.3, 0.6])
    methods["grad_cam"].update(final=0.8, ci95=[0.6, 0.9])
    methods["integrated_gradients"].update(final=0.1, ci95=[0.0, 0.2])
    checks = page_one_checks(document)
    lime = _row(checks, "LIME: model-randomisation sanity check")
    assert lime["outcome"] == "inconclusive" and "--sanity-images" in lime["decide"]
    assert _row(checks, "Grad-CAM: model-randomisation sanity check")["outcome"] == "fail"
    assert _row(checks, "Integrated Gradients: model-randomisation sanity check")["outcome"] == "pass"
    control = next(iter(document["sanity"]["controls"].values()))
    control.update(outcome="passed", passed=True)
    assert _row(page_one_checks(document), "Sanity check control")["outcome"] == "fail"
    control.update(outcome="inconclusive", passed=False)
    assert _row(page_one_checks(document), "Sanity check control")["outcome"] == "inconclusive"


def test_gates_accuracy_and_calibration_are_checks_and_failures_come_first(document):
    document["gates"] = evaluate_gates([parse_gate("accuracy<0.99"), parse_gate("roc_auc<0")], document)
    document["model"]["evaluation"]["intervals"]["ece"] = {"mean": 0.25, "ci95": [0.2, 0.3]}
    document["model"]["evaluation"]["ece"] = 0.25
    checks = page_one_checks(document)
    assert _row(checks, "Gate --fail-if accuracy<0.99")["outcome"] == "fail"
    assert _row(checks, "Gate --fail-if roc_auc<0")["outcome"] == "pass"
    assert _row(checks, "Calibration (expected calibration error)")["outcome"] == "fail"
    order = [check["outcome"] for check in checks]
    assert order == sorted(order, key=["fail", "inconclusive", "pass"].index)
    counts = check_counts(checks)
    assert sum(counts.values()) == len(checks) and counts["fail"] >= 1


@pytest.mark.parametrize("outcome", ["pass", "inconclusive", "fail"])
def test_failed_gates_fail_on_a_fail_and_not_passed_gates_on_an_inconclusive_too(document, outcome):
    interval = {"pass": [0.83, 0.9], "inconclusive": [0.76, 0.9], "fail": [0.6, 0.78]}[outcome]
    document["model"]["evaluation"]["intervals"]["accuracy"]["ci95"] = interval
    failed, not_passed = evaluate_gates([parse_gate("accuracy_failed"), parse_gate("accuracy_not_passed")],
                                        document)
    assert failed["passed"] is (outcome != "fail")
    assert not_passed["passed"] is (outcome == "pass")
    if outcome != "pass":
        assert f"Validation accuracy: {outcome.upper()}" in not_passed["detail"]


def test_page_one_of_the_html_holds_the_notice_the_identity_and_every_check(document):
    document["summary"]["checks"] = page_one_checks(document)
    html = render_html(document, make_figures(30))
    verdict = html[html.index('<section id="verdict">'):html.index('<nav class="contents"')]
    assert "Synthetic data:" in verdict
    assert document["model"]["checkpoint"]["sha256"] in verdict
    assert document["model"]["checkpoint"]["path"] not in html  # the file name only, never the local path
    assert "resnet18_patchcamelyon_final.pth" in verdict
    checks = document["summary"]["checks"]
    counts = check_counts(checks)
    assert (f"Checks: {counts['fail']} failed, {counts['inconclusive']} inconclusive, {counts['pass']} passed"
            in verdict)
    # The model's and the run's checks are rows; each method's are the cells of one row of the explanations table.
    assert verdict.count('<tr class="check-') == sum(1 for check in checks if not check["column"])
    table = verdict[verdict.index('<table class="method-checks"'):]
    table = table[:table.index("</table>")]
    assert table.count("<td class=\"check-") == sum(1 for check in checks if check["column"])
    assert all(f"<th>{title}</th>" in table for title in ("Integrated Gradients", "Grad-CAM", "LIME"))
    for check in checks:
        if check["outcome"] == "inconclusive":
            assert check["decide"] and check["decide"].replace("'", "&#39;") in verdict


def test_the_gallery_shows_errors_first_and_every_picture_the_centre_square():
    import base64
    import io

    import numpy as np
    from PIL import Image

    from reportgen.report.context import build_context
    from reportgen.report.figures import CENTRE_SQUARE_COLOUR, centre_square, patch_figures

    document = make_document(8)
    figures = make_figures(8)
    uris = patch_figures(figures, list(document["methods"]))
    panels = build_context(document, uris).patches
    strata = {image["patch_id"]: image["stratum"] for image in document["images"]}
    shown = [strata[panel.patch_id] for panel in panels]
    assert shown == sorted(shown, key=["FN", "FP", "TP", "TN"].index) and len(shown) == 8
    square = centre_square(96, 96)
    assert square.sum() == 4 * 32 - 4 and square[32, 32:64].all() and square[63, 32:64].all()
    assert not square[33:63, 33:63].any()
    for uri in [panels[0].original_uri, *(overlay.uri for overlay in panels[0].overlays)]:
        pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))
        assert (pixels[square] == CENTRE_SQUARE_COLOUR).all()


def test_model_card_and_sign_off_come_from_the_configuration_escaped_or_marked_blank(tmp_path):
    from gold.fixture import make_record

    from reportgen.config import load_config_file, resolve_config
    from reportgen.pipeline.document import assemble_document

    path = tmp_path / "audit.toml"
    path.write_text('[build]\nimages = 4\n[model_card]\nintended_use = "Research on <b>PCam</b> patches"\n'
                    'out_of_scope = ["primary diagnosis", "frozen sections"]\nowner = "Pathology AI team"\n'
                    '[sign_off]\nreviewer = "A. Reviewer"\ndate = 2026-12-01\n')
    record = make_record(4)
    record.config = resolve_config(file_values={**load_config_file(path), "steps": record.config.steps,
                                                "sanity_images": 2})
    document = assemble_document(record)
    assert document["model"]["card"]["out_of_scope"] == "primary diagnosis; frozen sections"
    assert document["sign_off"] == {"reviewer": "A. Reviewer", "role": None, "date": "2026-12-01", "decision": None}
    html = render_html(document, make_figures(4))
    assert "Research on &lt;b&gt;PCam&lt;/b&gt; patches" in html and "<b>PCam</b>" not in html
    assert "<tr><th>Licence</th><td>not stated</td></tr>" in html
    verdict = html[html.index('<section id="verdict">'):html.index('<nav class="contents"')]
    assert "<th>Reviewer</th><td>A. Reviewer</td>" in verdict
    assert verdict.count('<span class="blank"></span>') == 2  # role and decision, to be filled in on paper


@pytest.mark.parametrize("table, message", [
    ('[model_card]\nowners = "x"\n', "unknown key 'owners' in [model_card]"),
    ('[sign_off]\ndecision = 3\n', "[sign_off] decision"),
    ('model_card = "x"\n', "[model_card]"),
])
def test_bad_document_tables_get_one_line_naming_the_key(tmp_path, table, message):
    from reportgen.config import load_config_file
    from reportgen.errors import ConfigError

    path = tmp_path / "bad.toml"
    path.write_text(table)
    with pytest.raises(ConfigError) as error:
        load_config_file(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_settings_tables_speak_to_people_not_in_raw_keys_or_json(document):
    html = render_html(document, make_figures(30))
    methods = html[html.index('<section id="methods">'):html.index('<section id="faithfulness">')]
    assert "<th>Substrates</th><td>deletion: mean, insertion: blur</td>" in methods
    assert "<th>Methods</th><td>Integrated Gradients, Grad-CAM, LIME</td>" in methods
    mean = ", ".join(f"{v:.3f}" for v in document["settings"]["dataset_mean"])
    assert f"<th>Mean colour (RGB) of the mean substrate</th><td>{mean}</td>" in methods
    assert "{&#34;" not in methods and "target_description" not in methods and "batch_size" not in methods
