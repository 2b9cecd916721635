"""The verdict rule: how a report decides that one map is better than another (docs/metrics.md#verdicts).

A claim compares two maps on the same patches (a method against a reference
map, or two methods) by one metric.  On the patches whose curve can tell maps
apart (:func:`informative_patches`), the paired differences (positive: the
method is better) are tested with one-sided Wilcoxon signed-rank tests in
both directions (Wilcoxon, 1945; zero differences are dropped, Wilcoxon's
own rule), Holm-corrected over every p-value of the report's family of
claims (Holm, 1979), at level ``alpha``.  Outcomes:

``better`` / ``worse``
    the Holm-corrected one-sided p-value of that direction is below alpha;
``not_distinguishable``
    neither is;
``too_few``
    fewer non-zero differences than the test needs to reach alpha after the
    correction at all: the smallest one-sided p-value of the exact test on n
    pairs is 2^-n, so n must be at least log2(m / alpha) for a family of m
    p-values (:func:`minimum_pairs`).

Where the patches come with slide ids, the unit of every test and interval is
the slide: each slide's paired differences are averaged into one value, and the
test, the median and its interval are taken over slides, because patches of one
slide are not independent (a slide's stain, scanner and tissue are shared by all
its patches).  Without slide ids the unit is the patch, and the report says that
intervals assume independent patches.

Each claim carries the median paired difference and its percentile-bootstrap
95 % interval, so its size is read beside its outcome, and what the test could
detect (:func:`detectable_difference`): the smallest mean difference it finds
with 80 % power at the strictest Holm level alpha / m, from the observed spread
of the differences, and how many patches :data:`TARGET_DIFFERENCE` would need.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm, wilcoxon

from reportgen.metrics.stats import holm_correction, mean_with_interval, plain_float

OUTCOMES = ("better", "not_distinguishable", "worse", "too_few")

#: The tracked-class probability must change by at least this much between the clean image and the
#: fully substituted one for a patch's curve to tell maps apart.  Chosen from what a curve can show,
#: before looking at any method: every ordering of the pixels runs between the same two ends, so when
#: they are within 0.1 of each other all maps get nearly the same area and their differences measure
#: the substrate's noise, not faithfulness.  A confidently normal patch that stays normal when every
#: pixel is replaced is the typical case.
MIN_SCORE_CHANGE = 0.1


#: The metrics every claim is tested on: name -> (the curve whose informative patches it uses, higher is better).
#: SRG is a difference of two deletion curves with the same ends, so deletion's informative patches are its own.
CLAIM_METRICS = {"deletion_auc": ("deletion", False), "insertion_auc": ("insertion", True), "srg": ("deletion", True)}

#: The power the detectable difference is stated at.
POWER = 0.8
#: A difference in AUC worth detecting, for the "patches needed" figure (a twentieth of the AUC's range).
TARGET_DIFFERENCE = 0.05
#: Asymptotic relative efficiency of the Wilcoxon signed-rank test against the paired t-test for normal
#: differences (3 / pi; Lehmann, "Nonparametrics", 1975): the Wilcoxon test on n pairs has about the power
#: of a t-test on 3n / pi pairs.
WILCOXON_EFFICIENCY = 3 / math.pi


def detectable_difference(spread: float, n: int, *, level: float, power: float = POWER) -> float:
    """Smallest mean paired difference a one-sided test at ``level`` finds with ``power``, on ``n`` pairs.

    Normal approximation with the Wilcoxon test's efficiency: (z_{1-level} + z_power) * spread /
    sqrt(n * 3 / pi), where ``spread`` is the standard deviation of the differences.
    """
    if n < 1 or not math.isfinite(spread):
        return math.nan
    return (norm.ppf(1 - level) + norm.ppf(power)) * spread / math.sqrt(n * WILCOXON_EFFICIENCY)


def patches_needed(spread: float, difference: float, *, level: float, power: float = POWER) -> int | None:
    """Pairs a one-sided test at ``level`` needs to find a mean ``difference`` with ``power`` (inverse of the above)."""
    if not (math.isfinite(spread) and difference > 0):
        return None
    return math.ceil(((norm.ppf(1 - level) + norm.ppf(power)) * spread / difference) ** 2 / WILCOXON_EFFICIENCY)


def informative_patches(curves: np.ndarray, mode: str, *, min_change: float = MIN_SCORE_CHANGE) -> np.ndarray:
    """(N,) bool: patches whose deletion or insertion curve can tell maps apart.

    Parameters
    ----------
    curves : (N, steps + 1) curves of any map (their ends do not depend on the map): deletion runs
        from the clean image to the substrate, insertion from the substrate to the clean image.
    mode : "deletion" (deleting everything must lower the score by ``min_change``) or "insertion"
        (restoring everything must raise it by ``min_change``).
    """
    curves = np.asarray(curves, dtype=np.float64)
    clean, substituted = (curves[:, 0], curves[:, -1]) if mode == "deletion" else (curves[:, -1], curves[:, 0])
    return (clean - substituted) >= min_change


def informative_means(curves, masks: dict[str, np.ndarray], *, seed: int, groups=None) -> dict:
    """The headline means: each claimed metric's mean over its informative patches, with its interval.

    Parameters
    ----------
    curves : has each of :data:`CLAIM_METRICS` as an (N,) attribute (:class:`reportgen.pipeline.score.CurveSet`).
    masks : mode -> (N,) bool informative patches (:func:`informative_patches`).
    groups : (N,) slide ids, the unit of the interval, or ``None``.
    """
    return {metric: mean_with_interval(getattr(curves, metric)[masks[mode]], seed=seed,
                                       groups=None if groups is None else np.asarray(groups, dtype=object)[masks[mode]])
            for metric, (mode, _) in CLAIM_METRICS.items()}


def minimum_pairs(family_size: int, alpha: float) -> int:
    """Fewest non-zero paired differences with which a one-sided exact Wilcoxon test can pass Holm at ``alpha``."""
    return max(1, math.ceil(math.log2(max(family_size, 1) / alpha)))


def unit_values(differences: np.ndarray, groups=None) -> np.ndarray:
    """The values a test runs on: finite paired differences (N,), averaged per slide when ``groups`` (N,) are given.

    Slides are returned in sorted order of their ids, each as the mean of its patches' finite differences;
    a slide with none is left out.
    """
    differences = np.asarray(differences, dtype=np.float64).ravel()
    keep = np.isfinite(differences)
    if groups is None:
        return differences[keep]
    groups = np.asarray(groups, dtype=object).ravel()[keep].astype(str)
    slides, slide = np.unique(groups, return_inverse=True)
    return np.bincount(slide, weights=differences[keep], minlength=len(slides)) / np.bincount(slide, minlength=len(slides))


def _one_sided(differences: np.ndarray) -> tuple[float, float]:
    """(p that the method is better, p that it is worse) for paired differences, zeros dropped."""
    nonzero = differences[differences != 0]
    if len(nonzero) == 0:
        return 1.0, 1.0
    method = "exact" if len(nonzero) <= 50 else "approx"
    better = wilcoxon(nonzero, alternative="greater", method=method).pvalue
    worse = wilcoxon(nonzero, alternative="less", method=method).pvalue
    return float(better), float(worse)


def decide_claims(claims: list[dict], *, alpha: float = 0.05, seed: int = 0) -> list[dict]:
    """Outcomes of a family of claims under the verdict rule.

    Parameters
    ----------
    claims : each ``{"method", "against", "metric", "higher_is_better": bool, "values": (N,),
        "against_values": (N,), "patches": [indices of the patches used]}`` and optionally
        ``"groups": (N,)`` slide ids; the values are per-patch metric values of the two maps on
        those patches, in the same order.  With groups the unit is the slide (:func:`unit_values`).
    alpha : family-wise error rate (default 0.05).
    seed : seed of the bootstrap of the median difference.

    Returns
    -------
    One record per claim, in order: ``method``, ``against``, ``metric``, ``unit`` ("patch" or
    "slide"), ``patches``, ``slides`` (how many slides, or ``None``), ``n`` (non-zero differences
    of the unit), ``outcome`` (:data:`OUTCOMES`), ``p`` (one-sided,
    before correction, of the direction with the smaller p), ``p_holm``, ``median_difference``
    (positive: the method is better) and ``ci95``.
    """
    differences, raw = [], []
    for claim in claims:
        values = np.asarray(claim["values"], dtype=np.float64)
        against = np.asarray(claim["against_values"], dtype=np.float64)
        difference = (values - against) if claim["higher_is_better"] else (against - values)
        difference = unit_values(difference, claim.get("groups"))
        differences.append(difference)
        raw.extend(_one_sided(difference))
    corrected = holm_correction(raw) if raw else []
    needed = minimum_pairs(len(raw), alpha)
    records = []
    for index, (claim, difference) in enumerate(zip(claims, differences)):
        p_better, p_worse = raw[2 * index], raw[2 * index + 1]
        holm_better, holm_worse = corrected[2 * index], corrected[2 * index + 1]
        n = int(np.count_nonzero(difference))
        if n < needed:
            outcome = "too_few"
        elif holm_better < alpha:
            outcome = "better"
        elif holm_worse < alpha:
            outcome = "worse"
        else:
            outcome = "not_distinguishable"
        towards_worse = p_worse < p_better
        if len(difference):
            median = float(np.median(difference))
            low, high = _median_interval(difference, seed=seed)
        else:
            median, low, high = math.nan, math.nan, math.nan
        # The strictest Holm threshold, alpha / m, is what the first claim to be decided must pass.
        level = alpha / max(len(raw), 1)
        spread = float(np.std(difference, ddof=1)) if len(difference) > 1 else math.nan
        grouped = claim.get("groups") is not None
        records.append({
            "method": claim["method"], "against": claim["against"], "metric": claim["metric"],
            "unit": "slide" if grouped else "patch", "patches": [int(i) for i in claim["patches"]],
            "slides": len(difference) if grouped else None, "n": n, "needed": needed, "outcome": outcome,
            "p": plain_float(p_worse if towards_worse else p_better),
            "p_holm": plain_float(holm_worse if towards_worse else holm_better),
            "median_difference": plain_float(median), "ci95": [plain_float(low), plain_float(high)],
            "detectable_difference": plain_float(detectable_difference(spread, len(difference), level=level)),
            "patches_for_target": patches_needed(spread, TARGET_DIFFERENCE, level=level),
        })
    return records


def _median_interval(values: np.ndarray, *, seed: int, n_resamples: int = 2000) -> tuple[float, float]:
    """Percentile-bootstrap 95 % interval of the median of ``values``."""
    if len(values) < 2:
        value = float(values[0]) if len(values) else math.nan
        return value, value
    generator = np.random.default_rng(seed)
    medians = np.median(values[generator.integers(0, len(values), size=(n_resamples, len(values)))], axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    return float(low), float(high)

