"""Changes since the previous report, loading it, and gates."""

import json

import pytest
from gold.fixture import make_document, make_previous

from reportgen.errors import ConfigError
from reportgen.judgement import summarise_findings
from reportgen.judgement.compare import compare_reports, load_previous_report
from reportgen.judgement.gates import evaluate_gates, parse_gate
from reportgen.schema import ReportDocument, to_json


@pytest.fixture
def current():
    document = make_document(3)
    document["summary"] = summarise_findings(document)
    return document


@pytest.fixture
def previous(current):
    return make_previous(current)


def test_model_accuracy_and_method_changes(current, previous):
    comparison = compare_reports(current, previous)
    assert comparison["compatible"] and comparison["note"] is None
    assert comparison["model"] == {"previous_sha256": "cd" * 32, "current_sha256": "ab" * 32, "changed": True}
    assert comparison["accuracy"]["change"] == pytest.approx(0.86 - 0.80)
    rows = {row["name"]: row for row in comparison["methods"]}
    assert rows["grad_cam"]["deletion_auc"]["change"] == pytest.approx(0.1)
    assert rows["grad_cam"]["deletion_auc"]["previous"]["ci95"] == previous["methods"]["grad_cam"]["deletion_auc"]["ci95"]
    assert rows["integrated_gradients"]["insertion_auc"]["change"] == pytest.approx(-0.02)
    assert rows["lime"]["deletion_auc"]["change"] == pytest.approx(0.0)


def test_outcome_changes_come_first_failures_now_first_and_are_rendered_before_the_numbers(current, previous):
    import copy
    import dataclasses

    from gold.fixture import make_figures

    from reportgen.report.render import render_html

    checks = previous["summary"]["checks"] = copy.deepcopy(current["summary"]["checks"])
    accuracy = next(row for row in checks if row["check"] == "Validation accuracy")
    centre = next(row for row in checks if row["check"] == "Grad-CAM: attribution in the centre 32x32")
    now = {row["check"]: row["outcome"] for row in current["summary"]["checks"]}
    accuracy["outcome"] = "pass" if now["Validation accuracy"] != "pass" else "fail"
    centre["outcome"] = "fail" if now[centre["check"]] != "fail" else "pass"
    checks.append(dataclasses.replace(accuracy, check="A check of an older version"))
    comparison = compare_reports(current, previous)
    assert list(comparison)[:6] == ["previous_generated_at", "previous_title", "schema_versions", "compatible",
                                    "note", "outcomes"]
    rows = {row["check"]: row for row in comparison["outcomes"]}
    assert set(rows) == {"Validation accuracy", centre["check"], "A check of an older version"}
    assert rows["Validation accuracy"]["current"] == now["Validation accuracy"]
    assert rows["A check of an older version"]["current"] is None
    order = [row["current"] for row in comparison["outcomes"]]
    assert order == sorted(order, key=lambda outcome: ["fail", "inconclusive", "pass", None].index(outcome))
    current["comparison"] = comparison
    html = render_html(current, make_figures(3))
    changes = html[html.index('<section id="changes">'):]
    assert changes.index("Check whose outcome changed") < changes.index("Model checkpoint")
    assert "<td>A check of an older version</td><td>PASS</td><td>NOT IN THE REPORT</td>" in changes \
        or "<td>A check of an older version</td><td>FAIL</td><td>NOT IN THE REPORT</td>" in changes


def test_patch_changes_only_for_shared_ids_largest_first(current, previous):
    comparison = compare_reports(current, previous)
    # valid:1000 is in both; valid:1001 was replaced by valid:99999 in the previous run.
    assert comparison["shared_patches"] == 1
    assert {row["patch_id"] for row in comparison["patches"]} == {"valid:1000"}
    assert comparison["patches"][0]["method"] == "grad_cam"
    assert comparison["patches"][0]["metric"] == "deletion_auc"
    assert comparison["patches"][0]["change"] == pytest.approx(0.25)
    sizes = [abs(row["change"]) for row in comparison["patches"]]
    assert sizes == sorted(sizes, reverse=True)


def test_new_and_resolved_warnings(current, previous):
    previous["summary"]["warnings"].append(current["summary"]["warnings"][0])
    comparison = compare_reports(current, previous)
    assert current["summary"]["warnings"][0] not in comparison["new_warnings"]
    assert comparison["new_warnings"] == current["summary"]["warnings"][1:]
    assert comparison["resolved_warnings"] == ["an old warning that no longer applies"]


def test_new_and_removed_methods(current, previous):
    previous["methods"]["old_method"] = previous["methods"].pop("lime")
    rows = {row["name"]: row for row in compare_reports(current, previous)["methods"]}
    assert rows["lime"]["status"] == "new" and rows["lime"]["deletion_auc"]["change"] is None
    assert rows["old_method"]["status"] == "removed" and rows["old_method"]["deletion_auc"]["current"] is None


def test_schema_mismatch_is_noted_and_only_safe_fields_compared(current, previous):
    previous["schema_version"] = 0
    comparison = compare_reports(current, previous)
    assert comparison["compatible"] is False
    assert "schema version 0" in comparison["note"]
    assert comparison["methods"] == [] and comparison["patches"] == []
    assert comparison["model"]["changed"] is True


def test_load_previous_report_round_trip(tmp_path, previous):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(to_json(previous)), encoding="utf-8")
    loaded = load_previous_report(path)
    assert isinstance(loaded, ReportDocument) and loaded == previous


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "no integer schema_version"),
    ('{"schema_version": "1"}', "no integer schema_version"),
    ('{"schema_version": 99}', "newer than"),
    ('{"schema_version": 1, "model": [1]}', "is not a report document"),
])
def test_load_previous_report_errors_are_one_line_config_errors(tmp_path, content, message):
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as caught:
        load_previous_report(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_parse_gate_forms():
    gate = parse_gate(" accuracy < 0.9 ")
    assert (gate.name, gate.operator, gate.threshold, gate.expression) == ("accuracy", "<", 0.9, "accuracy<0.9")
    assert parse_gate("deletion_auc_increase>5e-2").threshold == 0.05
    assert parse_gate("sanity_failed").operator is None
    method = parse_gate("method:grad_cam.deletion_auc>=0.3")
    assert (method.method, method.metric, method.operator) == ("grad_cam", "deletion_auc", ">=")


def test_a_renamed_gate_says_its_new_name():
    with pytest.raises(ConfigError, match="gate centre_mass_below_uniform is now centre_mass_failed"):
        parse_gate("centre_mass_below_uniform")


@pytest.mark.parametrize("text, message", [
    ("accuracy", "needs a comparison"),
    ("sanity_failed>1", "takes no comparison"),
    ("acuracy<0.9", "unknown gate 'acuracy'; choose from: accuracy, accuracy_failed, accuracy_not_passed"),
    ("method:grad_cam.loss>1", "unknown gate metric 'loss'"),
    ("method:deletion_auc>1", "must name a method and a metric"),
    ("accuracy<<0.9", "is not of the form"),
    ("accuracy<abc", "is not of the form"),
])
def test_parse_gate_errors(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_gate(text)


def test_gates_pass_and_fail(current, previous):
    current["comparison"] = compare_reports(current, previous)
    texts = ["accuracy<0.9", "accuracy<0.5", "deletion_auc_increase>0.05", "deletion_auc_increase>0.2",
             "insertion_auc_decrease>0.01", "sanity_failed", "beats_random_failed",
             "method:grad_cam.deletion_auc>0.9", "method:lime.centre_mass<0.2", "roc_auc<0.95"]
    results = evaluate_gates([parse_gate(text) for text in texts], current)
    passed = {result["expression"]: result["passed"] for result in results}
    assert passed == {
        "accuracy<0.9": False,                 # 0.86 < 0.9 holds: the gate fails
        "accuracy<0.5": True,
        "deletion_auc_increase>0.05": False,   # Grad-CAM rose by 0.1
        "deletion_auc_increase>0.2": True,
        "insertion_auc_decrease>0.01": False,  # Integrated Gradients fell by 0.02
        "sanity_failed": False,                # LIME fails the sanity check in the fixture
        "beats_random_failed": True,           # 3 patches: nothing is decided, so nothing fails
        "method:grad_cam.deletion_auc>0.9": True,
        "method:lime.centre_mass<0.2": False,  # 0.1
        "roc_auc<0.95": False,
    }
    details = {result["expression"]: result["detail"] for result in results}
    assert "grad_cam rose by 0.1000" in details["deletion_auc_increase>0.05"]
    assert "LIME: model-randomisation sanity check: FAIL" in details["sanity_failed"]


def test_comparison_gates_are_skipped_without_a_previous_report(current):
    result, = evaluate_gates([parse_gate("deletion_auc_increase>0.0")], current)
    assert result["passed"] is True and result["detail"].startswith("skipped")


def test_gate_on_an_unknown_method_lists_the_methods(current):
    with pytest.raises(ConfigError, match="unknown method in gate 'gradcam'; choose from: grad_cam"):
        evaluate_gates([parse_gate("method:gradcam.deletion_auc>0.3")], current)


def _set_evidence(document, *, centre, mask, lost, flip, slide_accuracy, depends=False, explains=()):
    """Put hand-chosen values where the report keeps them, with intervals narrow enough to decide: every
    method's centre and mask share, the region-removal test on 400 tumour calls, the stain step's model condition
    on 1,000 patches (``depends``: its flips lie above the limit) with each method's map similarity (``explains``:
    below the limit, so the method explains the stain), and one slide's accuracy."""
    for name in document["methods"]:
        document["localisation"][name]["centre_mass"].update(mean=centre[name],
                                                            ci95=[centre[name] - 0.01, centre[name] + 0.01])
        document["localisation"][name]["mass_in_mask"]["mean"] = mask[name]
    document["evidence"] = {"limit": 0.2, "tumour_calls": 400, "substrate": "mean",
                            "lost_without_periphery": {"mean": lost, "ci95": [max(0.0, lost - 0.05), lost + 0.05],
                                                       "n": 400}}
    flips = {"mean": 0.4, "ci95": [0.35, 0.45]} if depends else {"mean": flip, "ci95": [max(0.0, flip - 0.02),
                                                                                        flip + 0.02]}
    document["stain_robustness"] = {
        "images": 10, "model_conditions": ["hed_strong"],
        "conditions": {"hed_strong": {
            "title": "HED strong", "flip_rate": {**flips, "n": 1000}, "decision_stable": flips["mean"] <= 0.1,
            "methods": {name: {"spearman": {"mean": 0.3, "ci95": [0.2, 0.4]} if name in explains else
                               {"mean": 0.9, "ci95": [0.85, 0.95]}} for name in document["methods"]}}}}
    document["slides"] = {"split": {"slide_a": {"patches": 40, "accuracy": slide_accuracy,
                                                "ci95": [slide_accuracy - 0.05, min(1.0, slide_accuracy + 0.05)]},
                                    "slide_b": {"patches": 5, "accuracy": 0.1, "ci95": [0.0, 0.6]}}}  # too few


HONEST = dict(centre={"integrated_gradients": 0.34, "grad_cam": 0.2, "lime": 0.3},
              mask={"integrated_gradients": 0.3, "grad_cam": 0.2, "lime": 0.25}, lost=0.1, flip=0.0,
              slide_accuracy=0.9)
# A retrained model that learnt a dark mark in the periphery instead of the tumour (issue #16's case):
# higher accuracy, every AUC at least as good, and Integrated Gradients' centre share down to 0.05.
MARKER = dict(centre={"integrated_gradients": 0.05, "grad_cam": 0.2, "lime": 0.3},
              mask={"integrated_gradients": 0.02, "grad_cam": 0.2, "lime": 0.25}, lost=0.9, flip=0.0,
              slide_accuracy=0.99)


def test_comparison_shows_where_the_evidence_moved(current, previous):
    _set_evidence(current, **MARKER)
    _set_evidence(previous, **HONEST)
    rows = {(row["method"], row["quantity"]): row for row in compare_reports(current, previous)["evidence"]}
    assert rows[("integrated_gradients", "centre_mass")]["change"] == pytest.approx(0.05 - 0.34)
    assert rows[("integrated_gradients", "mass_in_mask")]["previous"] == pytest.approx(0.3)
    assert rows[("lime", "centre_mass")]["change"] == pytest.approx(0.0)
    assert rows[(None, "periphery_reliance")]["change"] == pytest.approx(0.8)
    assert rows[(None, "stain_flip_rate")]["change"] == pytest.approx(0.0)
    assert rows[(None, "slide_accuracy")]["current"] == pytest.approx(0.99)  # slide_b has too few patches
    # Per-method rows come first, in method order, then the model's.
    assert [key[0] for key in rows][-3:] == [None, None, None]


def test_comparison_rows_only_for_values_a_report_holds(current, previous):
    current["stain_robustness"] = previous["stain_robustness"] = None  # as with --stain-images 0
    rows = compare_reports(current, previous)["evidence"]
    assert {row["quantity"] for row in rows} == {"centre_mass", "mass_in_mask"}  # no evidence, stain or slides


def test_the_marker_model_passes_the_old_gates_and_fails_the_evidence_gates(current, previous):
    _set_evidence(current, **MARKER)
    _set_evidence(previous, **HONEST)
    current["comparison"] = compare_reports(current, previous)
    texts = ["accuracy<0.8", "deletion_auc_increase>0.2", "centre_mass_decrease>0.1", "mass_in_mask_decrease>0.1",
             "periphery_reliance_increase>0.1", "periphery_reliance>0.2", "right_reason_failed",
             "centre_mass_failed", "stain_flip_rate>0.2", "stain_failed", "slide_accuracy<0.8",
             "method:integrated_gradients.mass_in_mask<0.05"]
    results = {result["expression"]: result for result in evaluate_gates([parse_gate(t) for t in texts], current)}
    assert {expression: result["passed"] for expression, result in results.items()} == {
        "accuracy<0.8": True, "deletion_auc_increase>0.2": True,
        "centre_mass_decrease>0.1": False,          # Integrated Gradients fell by 0.29
        "mass_in_mask_decrease>0.1": False,         # and by 0.28 in the mask
        "periphery_reliance_increase>0.1": False,   # 0.1 -> 0.9
        "periphery_reliance>0.2": False, "right_reason_failed": False,
        "centre_mass_failed": False,                # 0.05 [0.04, 0.06] < 1024 / 9216
        "stain_flip_rate>0.2": True, "stain_failed": True, "slide_accuracy<0.8": True,
        "method:integrated_gradients.mass_in_mask<0.05": False,
    }
    assert "integrated_gradients fell by 0.2900" in results["centre_mass_decrease>0.1"]["detail"]
    assert "the model rose by 0.8000" in results["periphery_reliance_increase>0.1"]["detail"]
    assert "Integrated Gradients: attribution in the centre 32x32: FAIL" in results["centre_mass_failed"]["detail"]


def test_the_honest_model_passes_the_evidence_gates(current, previous):
    _set_evidence(current, **HONEST)
    _set_evidence(previous, **HONEST)
    current["comparison"] = compare_reports(current, previous)
    texts = ["centre_mass_decrease>0.1", "periphery_reliance>0.2", "right_reason_failed",
             "centre_mass_not_passed", "stain_not_passed", "slide_accuracy<0.8", "right_reason_not_passed"]
    assert all(result["passed"] for result in evaluate_gates([parse_gate(t) for t in texts], current))


@pytest.mark.parametrize("change", [dict(depends=True), dict(explains=("lime",)), dict(flip=0.5)])
def test_stain_gates_fail_on_a_stain_finding(current, change):
    _set_evidence(current, **{**HONEST, **change})
    results = evaluate_gates([parse_gate("stain_failed"), parse_gate("stain_flip_rate>0.2")], current)
    assert results[0]["passed"] is False
    assert results[1]["passed"] is ("explains" in change)
    expected = "LIME: explains the decision, not the stain: FAIL" if "explains" in change else \
        "Model decision under a stain change: FAIL"
    assert expected in results[0]["detail"]


@pytest.mark.parametrize("text", ["right_reason_failed", "stain_failed", "stain_flip_rate>0.2", "periphery_reliance>0.2",
                                  "slide_accuracy<0.8", "centre_mass_decrease>0.1", "periphery_reliance_increase>0"])
def test_evidence_gates_are_skipped_when_the_report_lacks_the_measurement(current, text):
    current["comparison"] = current["stain_robustness"] = None  # the fixture has no evidence or slides either
    result, = evaluate_gates([parse_gate(text)], current)
    assert result["passed"] is True and result["detail"].startswith("skipped")


def test_evidence_flag_gates_take_no_comparison():
    with pytest.raises(ConfigError, match="right_reason_failed takes no comparison"):
        parse_gate("right_reason_failed>0")
    with pytest.raises(ConfigError, match="needs a comparison"):
        parse_gate("stain_flip_rate")
