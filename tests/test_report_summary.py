"""The verdict and warnings computed from a report document."""

import copy

import pytest
from gold.fixture import make_document

from reportgen.explain.grad_cam import GradCAM
from reportgen.judgement import summarise_findings
from reportgen.judgement.faithfulness import rank_methods, section_sentences
from reportgen.metrics.localisation import UNIFORM_CENTRE_MASS


@pytest.fixture
def document():
    return make_document(3)


def test_most_faithful_follows_the_metric_direction(document):
    summary = summarise_findings(document)
    deletion = document["methods"]
    best_deletion = min(deletion, key=lambda name: deletion[name]["deletion_auc"]["mean"])
    best_insertion = max(deletion, key=lambda name: deletion[name]["insertion_auc"]["mean"])
    assert summary["most_faithful"]["deletion"]["method"] == best_deletion
    assert summary["most_faithful"]["insertion"]["method"] == best_insertion
    assert rank_methods(document, "deletion")[0] == best_deletion


def _set_verdict(document, method, against, metric, outcome):
    for record in document["verdicts"]:
        if record["metric"] == metric and {record["method"], record["against"]} == {method, against}:
            flipped = {"better": "worse", "worse": "better"}
            record["outcome"] = outcome if record["method"] == method else flipped.get(outcome, outcome)
            return record
    raise AssertionError(f"no verdict {method} vs {against}")


def test_the_runner_up_comparison_is_read_from_the_verdict_of_the_top_two(document):
    ranking = rank_methods(document, "deletion")
    record = _set_verdict(document, ranking[0], ranking[1], "deletion_auc", "better")
    record["p_holm"] = 0.01
    best = summarise_findings(document)["most_faithful"]["deletion"]
    assert best["runner_up"] == ranking[1]
    assert best["significant"] is True and best["outcome"] == "better" and best["p_holm"] == 0.01
    assert f"it is better than {best['runner_up_title']} (Wilcoxon, Holm p = 0.01)" in " ".join(
        section_sentences(document))


def test_not_distinguishable_is_said_in_words(document):
    ranking = rank_methods(document, "deletion")
    _set_verdict(document, ranking[0], ranking[1], "deletion_auc", "not_distinguishable")
    summary = summarise_findings(document)
    assert summary["most_faithful"]["deletion"]["significant"] is False
    assert "it is not distinguishable from" in " ".join(section_sentences(document))


def test_every_kind_of_warning_is_raised():
    document = make_document(30)  # enough informative patches for decided verdicts
    document["model"]["evaluation"]["accuracy"] = 0.7
    document["model"]["evaluation"]["intervals"]["accuracy"] = {"mean": 0.7, "ci95": [0.6, 0.78]}
    warnings = summarise_findings(document)["warnings"]
    text = "\n".join(warnings)
    assert "The model's validation accuracy is below 0.8 (0.700 [0.600, 0.780]" in text
    assert "LIME is worse than the random map on deletion AUC (worse; Holm p = " in text
    assert "Grad-CAM: the feature map of layer4[-1] is 3x3" in text
    assert "LIME failed the model-randomisation sanity check" in text
    assert "1 of 30 patch notes report attribution concentrated on the patch border" in text
    # The fixture's LIME centre mass interval lies wholly below a uniform map's share.
    assert document["localisation"]["lime"]["centre_mass"]["ci95"][1] < UNIFORM_CENTRE_MASS
    assert "LIME puts less attribution on the centre" in text
    assert summarise_findings(document)["accuracy"] == 0.7
    assert ("LIME is worse than the centre prior, a map that ignores the model, on deletion AUC (worse"
            in " ".join(section_sentences(document)))


def test_a_clean_document_has_no_warnings(document):
    clean = copy.deepcopy(document)
    for record in clean["methods"].values():
        record["warnings"] = []
        record["extras"] = {}
    for record in clean["verdicts"]:
        record["outcome"] = "better" if record["against"] in ("random", "centre_prior", "sobel") else \
            "not_distinguishable"
    for record in clean["sanity"]["methods"].values():
        record["passed"], record["outcome"] = True, "passed"
    for record in clean["localisation"].values():
        record["centre_mass"].update(mean=0.4, ci95=[0.35, 0.45])
    for image in clean["images"]:
        image["note"] = "All methods agree on the centre."
    stain = clean["stain_robustness"]
    for condition in stain["conditions"].values():
        condition["unchanged"], condition["unchanged_patches"] = 0, []
        condition["flip_rate"] = {"mean": 0.0, "ci95": [0.0, 0.01], "n": 1000}
        for record in condition["methods"].values():
            record["verdict_changed"] = False
            record["spearman"] = {"mean": 0.9, "ci95": [0.85, 0.95]}
    summary = summarise_findings(clean)
    assert summary["warnings"] == []
    assert summary["verdict"].endswith("No warnings.")


def test_claims_with_too_few_informative_patches_are_said_once_per_family_and_metric(document):
    sentences = " ".join(section_sentences(document))  # three patches: nothing can be decided
    primary = [v for v in document["verdicts"] if v["family"] == "primary" and v["metric"] == "deletion_auc"]
    level = primary[0]["level"]
    family = sum(1 for v in document["verdicts"] if v["family"] == "primary")
    needed = next(n for n in range(1, 64) if 2.0 ** (1 - n) < level / family)
    assert (f"{len(primary)} of the {len(primary)} primary claims on deletion AUC cannot be decided: at level "
            f"{level:.2g} each needs at least {needed} informative patches" in sentences)
    assert "than the random map" not in "\n".join(summarise_findings(document)["warnings"])
    row = next(row for row in summarise_findings(document)["checks"] if row["check"] == "LIME: faithful to the model")
    assert row["outcome"] == "inconclusive" and f"about {needed} informative patches (this run has 3)" in row["decide"]


def test_a_coarse_cam_that_loses_to_random_points_at_a_finer_layer(document):
    grad_cam = document["methods"]["grad_cam"]
    grad_cam["settings"] = {"target_layer": "backbone.layer4.1", "feature_map_size": "3x3"}
    grad_cam["warnings"] = [GradCAM.coarse_message("backbone.layer4.1", "3x3")]  # the explainer's own warning
    _set_verdict(document, "grad_cam", "random", "deletion_auc", "not_distinguishable")
    text = "\n".join(summarise_findings(document)["warnings"])
    assert "Grad-CAM is not distinguishable from the random map on deletion AUC (not distinguishable" in text
    assert "Grad-CAM: the backbone.layer4.1 feature map is 3x3 (9 cells or fewer)" in text
    # The explainer's own feature-map warning states the same fact: it is not said a second time.
    assert "the feature map of backbone.layer4.1" not in text
    assert "the Grad-CAM layer table (Stability of the explanations) scores the finer layers" in text
    document["stability"] = None  # without the layer table, the flag that shows a finer layer
    assert "--grad-cam-layer backbone.layer3.1" in "\n".join(summarise_findings(document)["warnings"])


def test_warnings_carry_a_severity_the_most_serious_first():
    document = make_document(30)
    document["model"]["evaluation"]["accuracy"] = 0.7
    document["model"]["evaluation"]["intervals"]["accuracy"] = {"mean": 0.7, "ci95": [0.6, 0.78]}
    summary = summarise_findings(document)
    records = summary["warning_records"]
    assert [record["text"] for record in records] == summary["warnings"]
    severities = [record["severity"] for record in records]
    assert severities == sorted(severities, key=["high", "medium", "low"].index)
    by_text = {record["text"]: record for record in records}
    low_accuracy = next(text for text in by_text if "accuracy is below" in text)
    assert by_text[low_accuracy] == {"severity": "high", "text": low_accuracy, "method": None}
    loses = next(text for text in by_text if text.startswith("LIME is worse than the random map"))
    assert by_text[loses]["severity"] == "high" and by_text[loses]["method"] == "lime"
    border = next(text for text in by_text if "patch notes report attribution" in text)
    assert by_text[border]["severity"] == "low"


def test_a_methods_own_warning_is_said_once_under_its_title(document):
    document["methods"]["grad_cam"]["warnings"] = ["grad_cam: 2 patches had an all-zero map"]
    text = "\n".join(summarise_findings(document)["warnings"])
    assert "Grad-CAM: 2 patches had an all-zero map" in text
    assert "grad_cam:" not in text


@pytest.mark.parametrize("settings, outcome", [
    ({"target_layer": "backbone.layer4.1", "feature_map_size": "3x3"}, "better"),
    ({"target_layer": "backbone.layer3.1", "feature_map_size": "6x6"}, "not_distinguishable"),
    ({"target_layer": "backbone.layer4.1"}, "worse"),
])
def test_no_finer_layer_hint_when_the_map_wins_or_is_not_coarse(document, settings, outcome):
    document["methods"]["grad_cam"]["settings"] = settings
    for metric in ("deletion_auc", "insertion_auc", "srg"):
        _set_verdict(document, "grad_cam", "random", metric, outcome)
    assert "--grad-cam-layer" not in "\n".join(summarise_findings(document)["warnings"])


@pytest.mark.parametrize("counts, said", [([9, 7, 12], True), ([16, 30, 20], False), ([15, 15, 40], True)])
def test_a_superpixel_map_too_coarse_to_localise_is_said_with_its_count(document, counts, said):
    document["methods"]["lime"]["extras"] = {"n_superpixels": {"mean": None, "ci95": [None, None],
                                                               "per_image": counts}}
    text = "\n".join(summarise_findings(document)["warnings"])
    median = sorted(counts)[1]
    expected = (f"LIME divides a patch into only {median} superpixels (median over the patches; {min(counts)} to "
                f"{max(counts)}), so its map cannot localise finer than that")
    assert (expected in text) == said


def test_without_informative_patches_no_mean_is_stated_as_a_headline(document):
    for group in ("methods", "baselines"):
        for record in document[group].values():
            record["informative"]["insertion_auc"] = {"mean": None, "ci95": [None, None], "per_image": []}
    summary = summarise_findings(document)
    assert summary["most_faithful"]["insertion"] is None  # never the all-patch mean in its place
    assert summary["most_faithful"]["deletion"] is not None
