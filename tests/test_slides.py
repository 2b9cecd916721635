"""Slides: accuracy and explanations per slide, the worst slide per method, and cases chosen across slides."""

import json

import numpy as np
import pytest
from conftest import run_build

from reportgen.data.sampling import select_cases
from reportgen.judgement.slides import checks as slide_checks
from reportgen.metrics.slides import per_slide_accuracy, per_slide_means
from reportgen.pipeline.slide_section import slide_section
from reportgen.schema import ReportDocument


def test_per_slide_accuracy_against_hand_counts():
    labels = np.array([1, 0, 1, 1, 0, 0])
    predictions = np.array([1, 0, 0, 1, 1, 0])
    slides = ["b", "a", "b", "b", "a", "c"]
    from scipy.stats import binomtest

    def exact(k, n):
        interval = binomtest(k, n).proportion_ci(method="exact")
        return [pytest.approx(interval.low), pytest.approx(interval.high)]

    assert per_slide_accuracy(labels, predictions, slides) == {
        "a": {"patches": 2, "accuracy": 0.5, "ci95": exact(1, 2)},
        "b": {"patches": 3, "accuracy": 2 / 3, "ci95": exact(2, 3)},
        "c": {"patches": 1, "accuracy": 1.0, "ci95": exact(1, 1)}}


def test_per_slide_means_skip_unchosen_and_non_finite_values():
    values = np.array([0.2, np.nan, 0.4, 1.0])
    assert per_slide_means(values, ["a", "a", "b", "b"], np.array([True, True, True, False])) == {"a": 0.2, "b": 0.4}
    assert per_slide_means(values, ["a", "a", "c", "c"], np.array([False, True, False, False])) == {"a": None,
                                                                                                    "c": None}


def test_the_worst_slide_is_the_lowest_gain_over_random():
    section = slide_section(
        split_accuracy={"s1": {"patches": 10, "accuracy": 0.9}}, slide_ids=["s1", "s1", "s2", "s2"],
        informative=np.array([True, True, True, False]),
        deletion_auc={"m": np.array([0.2, 0.4, 0.7, 0.0])}, random_deletion_auc=np.array([0.5, 0.5, 0.5, 0.5]),
        centre_mass={"m": np.array([0.1, 0.3, 0.2, 0.4])})
    assert section["explained"]["s1"]["methods"]["m"]["deletion_gain"] == pytest.approx(0.2)  # (0.3 + 0.1) / 2
    assert section["explained"]["s2"]["methods"]["m"]["deletion_gain"] == pytest.approx(-0.2)  # the one informative
    assert section["explained"]["s2"]["methods"]["m"]["centre_mass"] == pytest.approx(0.3)  # all its patches
    assert section["worst"]["m"] == {"slide": "s2", "deletion_gain": pytest.approx(-0.2)}
    assert slide_section(split_accuracy=None, slide_ids=None, informative=np.ones(4, bool), deletion_auc={},
                         random_deletion_auc=np.zeros(4), centre_mass={}) is None


def test_a_slide_fails_the_check_only_when_its_exact_interval_lies_below_the_bar():
    def slide(correct, patches):
        return per_slide_accuracy(np.r_[np.ones(correct), np.zeros(patches - correct)], np.ones(patches),
                                  ["s"] * patches)["s"]

    def document(s2):
        return ReportDocument.from_json({"slides": {"split": {"s1": slide(50, 50), "s2": s2, "s3": slide(0, 5)}}})

    check = slide_checks(document(slide(24, 40)))[0].row()  # s2: 0.6 [0.43, 0.75] lies wholly below 0.8
    assert check["outcome"] == "fail" and "0.600 [0.433, 0.751] (s2, 40 patches); of 2 slides 1 below" in \
        check["measured"]
    check = slide_checks(document(slide(34, 40)))[0].row()  # s2: 0.85 [0.70, 0.94]: across the bar
    assert check["outcome"] == "inconclusive" and "of 2 slides 0 below, 1 undecided" in check["measured"]
    assert "evaluated patches on each of the 1 undecided slides" in check["decide"]
    assert slide_checks(document(slide(200, 200)))[0].row()["outcome"] == "pass"  # s3 has too few patches to be judged


def test_cases_by_slide_cover_as_many_slides_as_the_stratum_has():
    rng = np.random.default_rng(0)
    labels = np.repeat([1, 0], 60)
    predictions = labels.copy()
    slides = np.array([f"slide{i % 6}" for i in range(120)])
    # One slide holds most patches: confidence bins alone would draw mostly from it.
    slides[:40] = "slide0"
    probabilities = rng.uniform(0.5, 1.0, 120)
    by_slide = select_cases(labels, predictions, probabilities, 12, seed=3, slide_ids=slides)
    for stratum in ("TP", "TN"):
        picked = by_slide.indices[by_slide.strata == stratum]
        assert len(set(slides[picked])) == min(len(picked), len(set(slides[labels == (stratum == "TP")])))
    again = select_cases(labels, predictions, probabilities, 12, seed=3, slide_ids=slides)
    assert np.array_equal(by_slide.indices, again.indices)
    assert "spread over slides" in by_slide.description


def test_a_real_build_reports_every_slide(shared_build):
    document = json.loads((shared_build / "report.json").read_text())
    slides = document["slides"]
    explained = {image["slide_id"] for image in document["images"]}
    assert set(slides["explained"]) == explained
    assert sum(entry["patches"] for entry in slides["explained"].values()) == len(document["images"])
    assert set(slides["worst"]) == set(document["methods"])
    assert '<section id="slides">' in (shared_build / "report.html").read_text()


def test_patches_are_spread_over_slides_by_default_and_no_by_slide_turns_it_off(tmp_path, tiny_pcam, checkpoint_a,
                                                                                 shared_build):
    document = json.loads((shared_build / "report.json").read_text())  # a build with the default options
    assert "spread over slides" in document["data"]["selection"]["description"]
    options = ("--methods", "grad_cam", "--sanity-images", "0", "--stain-images", "0", "--stability", "none", "--no-pdf")
    assert run_build(tiny_pcam, checkpoint_a, tmp_path / "off", tmp_path / "cache", "--no-by-slide", *options) == 0
    document = json.loads((tmp_path / "off" / "report.json").read_text())
    assert "spread over confidence" in document["data"]["selection"]["description"]
