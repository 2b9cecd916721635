"""Stratified subsets and audit-case selection."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.data.sampling import select_cases, stratified_subset
from reportgen.errors import ConfigError


def test_stratified_subset_keeps_class_proportions():
    labels = np.array([0] * 900 + [1] * 100)
    subset = stratified_subset(labels, 0.1, seed=0)
    assert np.array_equal(subset, np.sort(subset)) and len(np.unique(subset)) == len(subset)
    assert (labels[subset] == 0).sum() == 90 and (labels[subset] == 1).sum() == 10
    assert np.array_equal(subset, stratified_subset(labels, 0.1, seed=0))
    assert not np.array_equal(subset, stratified_subset(labels, 0.1, seed=1))


def test_stratified_subset_keeps_rare_class_and_full_fraction():
    labels = np.array([0] * 50 + [1] * 2)
    assert (labels[stratified_subset(labels, 0.1, seed=0)] == 1).sum() == 1
    assert np.array_equal(stratified_subset(labels, 1.0, seed=0), np.arange(52))


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.5])
def test_stratified_subset_rejects_bad_fraction(fraction):
    with pytest.raises(ConfigError, match="fraction"):
        stratified_subset(np.zeros(10), fraction, seed=0)


def outcomes(n_tp, n_tn, n_fp, n_fn, seed=0):
    labels = np.array([1] * n_tp + [0] * n_tn + [0] * n_fp + [1] * n_fn)
    predictions = np.array([1] * n_tp + [0] * n_tn + [1] * n_fp + [0] * n_fn)
    rng = np.random.default_rng(seed)
    confidence = rng.uniform(0.5, 1.0, size=len(labels))
    probabilities = np.where(predictions[:, None] == 1, [[0, 1]], [[1, 0]]) * confidence[:, None]
    probabilities += np.where(predictions[:, None] == 1, [[1, 0]], [[0, 1]]) * (1 - confidence[:, None])
    return labels, predictions, probabilities, confidence


def test_every_non_empty_stratum_gets_a_case_and_strata_are_correct():
    labels, predictions, probabilities, _ = outcomes(480, 500, 15, 5)
    chosen = select_cases(labels, predictions, probabilities, 10, seed=0)
    counts = {name: int((chosen.strata == name).sum()) for name in ("TP", "TN", "FP", "FN")}
    assert counts["FP"] >= 1 and counts["FN"] >= 1 and sum(counts.values()) == 10
    assert counts["TP"] >= 4 and counts["TN"] >= 4
    assert len(np.unique(chosen.indices)) == 10
    for index, stratum in zip(chosen.indices, chosen.strata):
        truth, predicted = labels[index], predictions[index]
        assert stratum == {(1, 1): "TP", (0, 0): "TN", (0, 1): "FP", (1, 0): "FN"}[(truth, predicted)]
    assert "FN" in chosen.description and "at least one" in chosen.description


def test_cases_spread_over_confidence_not_the_first_n():
    labels, predictions, probabilities, confidence = outcomes(400, 0, 0, 0)
    chosen = select_cases(labels, predictions, probabilities, 8, seed=3)
    picked = np.sort(confidence[chosen.indices])
    ranks = np.searchsorted(np.sort(confidence), picked)
    # One pick per octile of the confidence ranking.
    assert np.array_equal(ranks // 50, np.arange(8))
    assert not np.array_equal(np.sort(chosen.indices), np.arange(8))


def test_selection_is_seeded_and_accepts_one_column_probabilities():
    labels, predictions, probabilities, _ = outcomes(60, 60, 6, 6)
    first = select_cases(labels, predictions, probabilities, 12, seed=5)
    assert np.array_equal(first.indices, select_cases(labels, predictions, probabilities, 12, seed=5).indices)
    assert not np.array_equal(first.indices, select_cases(labels, predictions, probabilities, 12, seed=6).indices)
    by_class_one = select_cases(labels, predictions, probabilities[:, 1], 12, seed=5)
    by_confidence = select_cases(labels, predictions, probabilities.max(axis=1), 12, seed=5)
    assert np.array_equal(first.indices, by_class_one.indices)
    assert np.array_equal(first.indices, by_confidence.indices)


def test_small_n_prefers_errors_and_n_equal_all_takes_everything():
    labels, predictions, probabilities, _ = outcomes(5, 5, 1, 1)
    two = select_cases(labels, predictions, probabilities, 2, seed=0)
    assert sorted(two.strata) == ["FN", "FP"]
    everything = select_cases(labels, predictions, probabilities, 12, seed=0)
    assert np.array_equal(np.sort(everything.indices), np.arange(12))


@pytest.mark.parametrize("n", [1000, 1023, 1024])
def test_nearly_every_patch_asked_for_gives_distinct_patches(n):
    # 476 TP for 465 places: bins of width just above one patch must not share a patch.
    labels, predictions, probabilities, _ = outcomes(476, 503, 9, 36)
    chosen = select_cases(labels, predictions, probabilities, n, seed=0)
    assert len(np.unique(chosen.indices)) == n


@pytest.mark.parametrize("n", [0, 13])
def test_select_cases_rejects_impossible_n(n):
    labels, predictions, probabilities, _ = outcomes(5, 5, 1, 1)
    with pytest.raises(ConfigError, match="between 1 and the 12"):
        select_cases(labels, predictions, probabilities, n, seed=0)
