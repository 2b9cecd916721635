"""Bootstrap intervals, paired Wilcoxon tests and Holm correction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import wilcoxon

from reportgen.errors import ConfigError
from reportgen.metrics.stats import (
    bootstrap_ci,
    holm_correction,
    mean_with_interval,
    paired_wilcoxon,
    pairwise_wilcoxon,
)


def test_bootstrap_contains_mean_and_is_deterministic():
    values = np.random.default_rng(0).normal(0.4, 0.1, size=30)
    low, high = bootstrap_ci(values, seed=3)
    assert low < values.mean() < high
    assert high - low < 0.2
    assert bootstrap_ci(values, seed=3) == (low, high)
    assert bootstrap_ci(values, seed=4) != (low, high)


def test_bootstrap_wider_at_lower_confidence_is_narrower():
    values = np.random.default_rng(1).random(20)
    low95, high95 = bootstrap_ci(values, seed=0)
    low50, high50 = bootstrap_ci(values, seed=0, confidence=0.5)
    assert low95 < low50 < high50 < high95


def test_bootstrap_edge_cases():
    assert bootstrap_ci([0.3], seed=0) == (0.3, 0.3)
    assert all(math.isnan(v) for v in bootstrap_ci([], seed=0))
    assert bootstrap_ci([0.2, np.nan, 0.2], seed=0) == (0.2, 0.2)
    with pytest.raises(ConfigError, match="confidence"):
        bootstrap_ci([1.0, 2.0], seed=0, confidence=95)


def test_mean_with_interval_is_plain_json():
    summary = mean_with_interval(np.array([0.1, 0.3, np.nan]), seed=0)
    assert summary["mean"] == pytest.approx(0.2)
    assert summary["per_image"] == [pytest.approx(0.1), pytest.approx(0.3), None]
    assert all(type(v) is float for v in summary["ci95"])
    assert summary["ci95"][0] <= 0.2 <= summary["ci95"][1]


def test_wilcoxon_detects_a_clear_difference():
    rng = np.random.default_rng(0)
    a = rng.random(25)
    result = paired_wilcoxon(a, a + 0.2 + 0.01 * rng.random(25))
    assert result["p_value"] < 1e-4
    assert result["n"] == 25


def test_wilcoxon_with_tied_differences_is_deterministic():
    a = np.arange(30.0)
    b = a + np.repeat([1.0, 2.0, 3.0], 10)
    first = paired_wilcoxon(a, b)
    assert first == paired_wilcoxon(a, b)
    assert first["p_value"] < 1e-4


def test_wilcoxon_all_equal_gives_p_one():
    a = np.linspace(0, 1, 10)
    assert paired_wilcoxon(a, a.copy()) == {"statistic": 0.0, "p_value": 1.0, "n": 0}


def test_wilcoxon_n_counts_only_non_zero_differences():
    rng = np.random.default_rng(2)
    a = rng.random(20)
    b = a + np.where(np.arange(20) < 7, 0.0, 0.1 + 0.01 * rng.random(20))
    b[3] = np.nan
    result = paired_wilcoxon(a, b)
    # 19 finite pairs, 6 of them with a zero difference: the test ranks 13.
    assert result["n"] == 13
    differences = (a - b)[np.isfinite(b)]
    assert result["p_value"] == pytest.approx(wilcoxon(differences[differences != 0], method="exact").pvalue)


def test_holm_correction_by_hand():
    # Sorted p: 0.01 (x3), 0.02 (x2 -> 0.04), 0.04 (x1 -> 0.04, kept monotone).
    assert holm_correction([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm_correction([0.6, 0.5]) == pytest.approx([1.0, 1.0])


def test_pairwise_table_orders_pairs_and_corrects():
    values = {"a": np.arange(12.0), "b": np.arange(12.0) + 1, "c": np.arange(12.0)}
    rows = pairwise_wilcoxon(values)
    assert [(row["a"], row["b"]) for row in rows] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert rows[1]["p_value"] == 1.0
    assert rows[0]["mean_difference"] == pytest.approx(-1.0)
    assert all(row["p_holm"] >= row["p_value"] for row in rows)


def test_the_slide_bootstrap_of_equal_slides_is_the_patch_bootstrap_of_their_means():
    rng = np.random.default_rng(3)
    slide_means = rng.normal(0.5, 0.1, 8)
    noise = rng.normal(0, 0.01, 5)
    values = np.repeat(slide_means, 5) + np.tile(noise - noise.mean(), 8)  # each slide's mean is its slide_means
    groups = np.repeat([f"s{k}" for k in range(8)], 5)
    assert bootstrap_ci(values, seed=1, groups=groups) == pytest.approx(bootstrap_ci(slide_means, seed=1))


def test_resampling_slides_widens_the_interval_when_patches_of_a_slide_agree():
    rng = np.random.default_rng(4)
    values = np.repeat(rng.normal(0.5, 0.1, 6), 5)  # five identical patches per slide
    groups = np.repeat(np.arange(6).astype(str), 5)
    by_patch, by_slide = bootstrap_ci(values, seed=0), bootstrap_ci(values, seed=0, groups=groups)
    assert by_slide[1] - by_slide[0] > 1.5 * (by_patch[1] - by_patch[0])
    assert mean_with_interval(values, seed=0, groups=groups)["ci95"] == pytest.approx(list(by_slide))


def test_a_rate_counts_its_patches_and_slides_and_keeps_no_per_patch_list():
    from reportgen.metrics.stats import rate_with_interval

    values = np.array([1.0, 0.0, np.nan, 1.0, 0.0, 0.0])
    slides = np.array(["a", "a", "b", "c", "c", "c"], dtype=object)
    rate = rate_with_interval(values, seed=0, groups=slides)
    assert rate["mean"] == 0.4 and rate["n"] == 5 and rate["slides"] == 2  # slide "b" holds only the nan
    assert set(rate) == {"mean", "ci95", "n", "slides"}
    assert rate_with_interval(values, seed=0)["slides"] is None
