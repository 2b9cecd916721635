"""Model-card metrics on hand-made probabilities whose answers are known."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reportgen.errors import DataError
from reportgen.model.evaluate import calibration, classification_metrics, evaluation_indices, roc_auc


def _probabilities(tumour):
    tumour = np.asarray(tumour, dtype=float)
    return np.stack([1 - tumour, tumour], axis=1)


def test_confusion_matrix_sensitivity_specificity():
    # labels:      0    0    0    1    1    1    1
    # predictions: 0    1    0    1    1    0    1
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    metrics = classification_metrics(_probabilities([0.1, 0.8, 0.3, 0.9, 0.6, 0.4, 0.7]), labels)
    assert metrics["confusion_matrix"] == [[2, 1], [1, 3]]
    assert metrics["n"] == 7
    assert metrics["accuracy"] == pytest.approx(5 / 7)
    assert metrics["sensitivity"] == pytest.approx(3 / 4)
    assert metrics["specificity"] == pytest.approx(2 / 3)
    json.dumps(metrics)


def test_roc_auc_counts_ordered_pairs_and_half_ties():
    # Pairs (pos, neg): 0.9 beats all 3; 0.6 beats 0.1 and 0.3, loses to 0.8; 0.3 ties 0.3.
    scores = [0.1, 0.8, 0.3, 0.9, 0.6, 0.3]
    labels = [0, 0, 0, 1, 1, 1]
    assert roc_auc(np.array(scores), np.array(labels)) == pytest.approx((3 + 2 + 1.5) / 9)
    assert roc_auc(np.array([0.2, 0.9]), np.array([0, 1])) == 1.0
    assert roc_auc(np.array([0.9, 0.2]), np.array([0, 1])) == 0.0
    assert roc_auc(np.array([0.2, 0.9]), np.array([1, 1])) is None


def test_ece_of_hand_made_bins():
    # Two occupied bins: (0.6, 0.6667] holds 0.65 x2 (one correct), (0.9333, 1] holds 0.95 x2 (both correct).
    confidence = np.array([0.65, 0.65, 0.95, 0.95])
    correct = np.array([True, False, True, True])
    result = calibration(confidence, correct, n_bins=15)
    assert result["ece"] == pytest.approx(0.5 * abs(0.5 - 0.65) + 0.5 * abs(1.0 - 0.95))
    assert len(result["bin_edges"]) == 16 and result["bin_edges"][0] == 0.0 and result["bin_edges"][-1] == 1.0
    assert sum(result["count"]) == 4
    assert result["count"][9] == 2 and result["count"][14] == 2
    assert result["accuracy"][9] == pytest.approx(0.5) and result["confidence"][14] == pytest.approx(0.95)
    assert result["accuracy"][0] is None


def test_ece_is_zero_when_confidence_matches_accuracy_and_bins_are_right_closed():
    confidence = np.array([0.8] * 5)
    correct = np.array([True, True, True, True, False])
    assert calibration(confidence, correct)["ece"] == pytest.approx(0.0)
    # 0.8 * 15 = 12 exactly: the right-closed bin (11/15, 12/15] is index 11.
    assert calibration(confidence, correct)["count"][11] == 5


def test_metrics_through_classification_metrics():
    metrics = classification_metrics(_probabilities([0.65, 0.35, 0.95, 0.05]), np.array([1, 1, 1, 0]))
    # Top-1 confidences are 0.65, 0.65, 0.95, 0.95; the second patch is wrong.
    assert metrics["ece"] == pytest.approx(0.5 * 0.15 + 0.5 * 0.05)
    assert metrics["sensitivity"] == pytest.approx(2 / 3) and metrics["specificity"] == 1.0
    assert metrics["reliability"]["count"][9] == 2


def test_undefined_values_are_none_and_bad_shapes_raise():
    metrics = classification_metrics(_probabilities([0.2, 0.3]), np.array([0, 0]))
    assert metrics["sensitivity"] is None and metrics["roc_auc"] is None
    assert metrics["specificity"] == 1.0
    with pytest.raises(DataError, match=r"\(N, 2\)"):
        classification_metrics(np.zeros((3, 3)), np.zeros(3))


def test_evaluation_indices_are_evenly_spaced():
    assert evaluation_indices(10, None) is None
    assert evaluation_indices(10, 20) is None
    np.testing.assert_array_equal(evaluation_indices(10, 4), [0, 3, 6, 9])
