"""Changes since the previous report, loading it, and gates."""

import json

import pytest

from gold.fixture import make_document, make_previous
from reportgen.errors import ConfigError
from reportgen.report.compare import compare_reports, load_previous_report
from reportgen.report.gates import evaluate_gates, parse_gate
from reportgen.report.summary import summarise_findings


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
    path.write_text(json.dumps(previous), encoding="utf-8")
    assert load_previous_report(path) == previous


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "no integer schema_version"),
    ('{"schema_version": "1"}', "no integer schema_version"),
    ('{"schema_version": 99}', "newer than"),
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


@pytest.mark.parametrize("text, message", [
    ("accuracy", "needs a comparison"),
    ("sanity_failed>1", "takes no comparison"),
    ("acuracy<0.9", "unknown gate 'acuracy'; choose from: accuracy, beats_random_failed"),
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
        "beats_random_failed": False,          # 3 patches: no method can be shown better than random
        "method:grad_cam.deletion_auc>0.9": True,
        "method:lime.centre_mass<0.2": False,  # 0.1
        "roc_auc<0.95": False,
    }
    details = {result["expression"]: result["detail"] for result in results}
    assert "grad_cam rose by 0.1000" in details["deletion_auc_increase>0.05"]
    assert "lime" in details["sanity_failed"]


def test_comparison_gates_are_skipped_without_a_previous_report(current):
    result, = evaluate_gates([parse_gate("deletion_auc_increase>0.0")], current)
    assert result["passed"] is True and result["detail"].startswith("skipped")


def test_gate_on_an_unknown_method_lists_the_methods(current):
    with pytest.raises(ConfigError, match="unknown method in gate 'gradcam'; choose from: grad_cam"):
        evaluate_gates([parse_gate("method:gradcam.deletion_auc>0.3")], current)
