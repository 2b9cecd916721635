"""The verdict and warnings computed from a report document."""

import copy

import pytest

from reportgen.report.summary import UNIFORM_CENTRE_MASS, rank_methods, summarise_findings
from gold.fixture import make_document


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


def test_significance_is_read_from_the_holm_corrected_test_of_the_top_two(document):
    ranking = rank_methods(document, "deletion")
    for test in document["significance"]["deletion"]:
        test["p_holm"] = 0.5
        if {test["a"], test["b"]} == set(ranking[:2]):
            test["p_holm"] = 0.01
    best = summarise_findings(document)["most_faithful"]["deletion"]
    assert best["runner_up"] == ranking[1]
    assert best["significant"] is True and best["p_holm"] == 0.01
    assert "is significant" in summarise_findings(document)["verdict"]


def test_not_significant_is_said_in_words(document):
    for test in document["significance"]["deletion"]:
        test["p_holm"] = 0.2
    summary = summarise_findings(document)
    assert summary["most_faithful"]["deletion"]["significant"] is False
    assert "not significant" in summary["verdict"]


def test_every_kind_of_warning_is_raised(document):
    document["model"]["evaluation"]["accuracy"] = 0.7
    warnings = summarise_findings(document)["warnings"]
    text = "\n".join(warnings)
    assert "accuracy is low (0.700" in text
    assert "LIME is no better than the random reference map on deletion" in text
    assert "Grad-CAM: feature map is 3x3" in text
    assert "LIME failed the model-randomisation sanity check" in text
    assert "1 of 3 patch notes report attribution concentrated on the patch border" in text
    # The fixture's LIME centre mass (0.1) is below a uniform map's share.
    assert document["localisation"]["lime"]["centre_mass"]["mean"] < UNIFORM_CENTRE_MASS
    assert "LIME puts less attribution on the centre" in text
    assert summarise_findings(document)["accuracy"] == 0.7


def test_a_clean_document_has_no_warnings(document):
    clean = copy.deepcopy(document)
    for record in clean["methods"].values():
        record["beats_random"] = {"deletion": True, "insertion": True}
        record["warnings"] = []
        record["extras"] = {}
    for record in clean["sanity"]["methods"].values():
        record["passed"] = True
    for record in clean["localisation"].values():
        record["centre_mass"]["mean"] = 0.4
    for image in clean["images"]:
        image["note"] = "All methods agree on the centre."
    summary = summarise_findings(clean)
    assert summary["warnings"] == []
    assert summary["verdict"].endswith("No warnings.")


def test_a_coarse_cam_that_loses_to_random_points_at_a_finer_layer(document):
    grad_cam = document["methods"]["grad_cam"]
    grad_cam["settings"] = {"target_layer": "backbone.layer4.1", "feature_map_size": "3x3"}
    grad_cam["beats_random"] = {"deletion": False, "insertion": True}
    text = "\n".join(summarise_findings(document)["warnings"])
    assert "Grad-CAM is no better than the random reference map on deletion AUC" in text
    assert "Grad-CAM: the backbone.layer4.1 map has 9 cells or fewer" in text
    assert "--grad-cam-layer backbone.layer3.1" in text


@pytest.mark.parametrize("settings, beats", [
    ({"target_layer": "backbone.layer4.1", "feature_map_size": "3x3"}, {"deletion": True, "insertion": True}),
    ({"target_layer": "backbone.layer3.1", "feature_map_size": "6x6"}, {"deletion": False, "insertion": True}),
    ({"target_layer": "backbone.layer4.1"}, {"deletion": False, "insertion": False}),
])
def test_no_finer_layer_hint_when_the_map_wins_or_is_not_coarse(document, settings, beats):
    document["methods"]["grad_cam"].update(settings=settings, beats_random=beats)
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
