"""The one rule every check decides by, on intervals with a known answer, and the share interval that cannot
collapse, against scipy's exact binomial interval."""

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from reportgen.judgement.check import interval_check
from reportgen.judgement.rule import interval_outcome, scaled_images, units_to_decide
from reportgen.metrics.stats import share_with_interval


@pytest.mark.parametrize("interval, direction, expected", [
    ((0.85, 0.95), "at_least", "pass"), ((0.80, 0.95), "at_least", "pass"), ((0.70, 0.79), "at_least", "fail"),
    ((0.75, 0.85), "at_least", "inconclusive"),
    ((0.00, 0.20), "at_most", "pass"), ((0.21, 0.30), "at_most", "fail"), ((0.10, 0.30), "at_most", "inconclusive"),
    ((0.10, 0.19), "below", "pass"), ((0.20, 0.40), "below", "fail"), ((0.10, 0.20), "below", "inconclusive"),
    ((None, 0.9), "at_least", "inconclusive"), ((math.nan, 0.9), "at_least", "inconclusive"),
])
def test_an_interval_passes_only_wholly_on_the_claims_side_and_fails_only_wholly_on_the_other(interval, direction,
                                                                                           expected):
    limit = {"at_least": 0.8, "at_most": 0.2, "below": 0.2}[direction]
    assert interval_outcome(interval, limit, direction) == expected


def test_what_would_decide_scales_the_units_by_the_squared_ratio_of_half_width_to_distance():
    # Half-width 0.1, 0.05 from the limit, on 30 units: about 30 * (0.1 / 0.05)^2 = 120 units.
    assert units_to_decide(0.85, (0.75, 0.95), 0.8, 30) == 120
    assert units_to_decide(0.8, (0.7, 0.9), 0.8, 30) is None  # on the limit: more data alone does not decide
    assert units_to_decide(0.85, None, 0.8, 30) is None
    assert scaled_images(30, 10, 25) == 75


def test_an_inconclusive_check_says_what_would_decide_it_and_a_decided_one_says_nothing():
    more = lambda k: f"about {k} patches"  # noqa: E731
    undecided = interval_check("x", "at least 0.8", "0.85", "model", value=0.85, interval=(0.75, 0.95), limit=0.8,
                               direction="at_least", units=30, more=more)
    assert undecided.outcome == "inconclusive" and undecided.decide == "about 120 patches"
    decided = interval_check("x", "at least 0.8", "0.9", "model", value=0.9, interval=(0.85, 0.95), limit=0.8,
                             direction="at_least", units=30, more=more)
    assert decided.outcome == "pass" and decided.decide == ""
    row = decided.row()
    assert row["interval"] == [0.85, 0.95] and row["limit"] == 0.8 and row["direction"] == "at_least"


@pytest.mark.parametrize("events, n", [(0, 14), (1, 14), (14, 14), (3, 480)])
def test_a_share_interval_is_never_narrower_than_the_exact_binomial_interval(events, n):
    values = np.r_[np.ones(events), np.zeros(n - events)]
    record = share_with_interval(values, seed=0)
    exact = binomtest(events, n).proportion_ci(method="exact")
    low, high = record["ci95"]
    assert low <= exact.low + 1e-12 and high >= exact.high - 1e-12
    assert record["n"] == n and record["slides"] is None
    if events == 0:  # 0 of 14 cannot clear a limit of 0.2; 0 of 480 can
        assert high == pytest.approx(1 - 0.025 ** (1 / n))


def test_with_slides_the_share_interval_resamples_slides_and_counts_them():
    rng = np.random.default_rng(0)
    slides = np.repeat(np.arange(8), 25)
    # Slides differ: half of them lose most calls, half none; the bootstrap over slides is far wider than exact.
    values = (rng.random(200) < np.where(slides < 4, 0.6, 0.0)).astype(float)
    record = share_with_interval(values, seed=0, groups=slides)
    exact = binomtest(int(values.sum()), 200).proportion_ci(method="exact")
    assert record["slides"] == 8
    assert record["ci95"][1] - record["ci95"][0] > 2 * (exact.high - exact.low)
