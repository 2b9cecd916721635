"""The verdict rule: how a report decides that one map is better than another (docs/metrics.md#verdicts).

A claim compares two maps on the same patches (a method against a reference
map, or two methods) by one metric.  On the patches whose curve can tell maps
apart (:func:`informative_patches`), the paired differences (positive: the
method is better) are tested with the Wilcoxon signed-rank test (Wilcoxon, 1945;
zero differences are dropped, Wilcoxon's own rule); a claim's p-value is
two-sided (twice the smaller one-sided p-value) and its direction that of the
smaller one.  The p-values of a family of claims are Holm-corrected (Holm, 1979)
at the family's level.  Outcomes:

``better`` / ``worse``
    the Holm-corrected p-value is below the family's level, in that direction;
``not_distinguishable``
    it is not;
``too_few``
    fewer non-zero differences than the test needs to reach the level after the
    correction at all: the smallest two-sided p-value of the exact test on n
    pairs is 2^(1 - n) (:func:`minimum_pairs`).

The report's claims form a hierarchy fixed before any result is seen
(:func:`decide_report_claims`, docs/judgement.md#the-claims-page-one-rests-on):
the **primary** family, each method better than the random map by deletion AUC
and by SRG, is what page one rests on and gets most of the error rate; the
comparisons with the model-independent maps, insertion and the method pairs are
the **secondary** family.

Where the patches come with slide ids, the unit of every test and interval is
the slide: each slide's paired differences are averaged into one value, and the
test, the median and its interval are taken over slides, because patches of one
slide are not independent (a slide's stain, scanner and tissue are shared by all
its patches).  Without slide ids the unit is the patch, and the report says that
intervals assume independent patches.

Each claim carries the median paired difference and its percentile-bootstrap
95 % interval, so its size is read beside its outcome, and what the test could
detect (:func:`detectable_difference`): the smallest mean difference it finds
with 80 % power at the strictest Holm level of its family, from the observed
spread of the differences, and how many units :data:`TARGET_DIFFERENCE` would need.
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

#: The claims page one rests on, chosen before any result was seen: (reference map, metric).  A map no better
#: than the random map carries no information about the model, so "better than random" is the least a faithful
#: map must show; deletion AUC measures it directly and SRG (deletion's two orderings, most and least relevant
#: first) cancels the part of the deletion score that any ordering of the pixels gets.  Insertion is secondary
#: because its curves start from the substrate, a state the model was not trained on.
PRIMARY_CLAIMS = (("random", "deletion_auc"), ("random", "srg"))
#: The primary family's share of the report's alpha; the rest goes to the secondary family.  When every primary
#: claim is decided (better or worse), its share passes on and the secondary family is tested at the full alpha
#: (the fallback procedure, Wiens, Pharmaceutical Statistics 2003; the family-wise error rate over all claims
#: stays at alpha).
PRIMARY_SHARE = 0.8

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
    """Fewest non-zero paired differences with which an exact two-sided Wilcoxon test can pass Holm at ``alpha``:
    the smallest p-value on n pairs, 2^(1 - n), must fall below alpha / family_size."""
    n = 1
    while 2.0 ** (1 - n) >= alpha / max(family_size, 1):
        n += 1
    return n


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


def decide_claims(claims: list[dict], *, alpha: float = 0.05, seed: int = 0, family: str | None = None) -> list[dict]:
    """Outcomes of one family of claims under the verdict rule, Holm-corrected at ``alpha``.

    Parameters
    ----------
    claims : each ``{"method", "against", "metric", "higher_is_better": bool, "values": (N,),
        "against_values": (N,), "patches": [indices of the patches used]}`` and optionally
        ``"groups": (N,)`` slide ids; the values are per-patch metric values of the two maps on
        those patches, in the same order.  With groups the unit is the slide (:func:`unit_values`).
    alpha : the family's level (default 0.05).
    seed : seed of the bootstrap of the median difference.
    family : the family's name, stored with each record (e.g. "primary").

    Returns
    -------
    One record per claim, in order: ``method``, ``against``, ``metric``, ``family``, ``level`` (``alpha``),
    ``unit`` ("patch" or "slide"), ``patches``, ``slides`` (how many slides, or ``None``), ``n`` (non-zero
    differences of the unit), ``needed`` (:func:`minimum_pairs`), ``outcome`` (:data:`OUTCOMES`), ``p``
    (two-sided, before correction), ``p_holm``, ``differences`` (the unit values the test ran on, positive:
    the method is better), ``median_difference`` and ``ci95``.
    """
    differences, p_values, towards_worse = [], [], []
    for claim in claims:
        values = np.asarray(claim["values"], dtype=np.float64)
        against = np.asarray(claim["against_values"], dtype=np.float64)
        difference = (values - against) if claim["higher_is_better"] else (against - values)
        difference = unit_values(difference, claim.get("groups"))
        differences.append(difference)
        p_better, p_worse = _one_sided(difference)
        p_values.append(min(1.0, 2 * min(p_better, p_worse)))
        towards_worse.append(p_worse < p_better)
    corrected = holm_correction(p_values) if p_values else []
    needed = minimum_pairs(len(p_values), alpha)
    # The strictest Holm threshold, alpha / m, is what the first claim to be decided must pass.
    level = alpha / max(len(p_values), 1)
    records = []
    for claim, difference, p, p_holm, worse in zip(claims, differences, p_values, corrected, towards_worse):
        n = int(np.count_nonzero(difference))
        if n < needed:
            outcome = "too_few"
        elif p_holm < alpha:
            outcome = "worse" if worse else "better"
        else:
            outcome = "not_distinguishable"
        if len(difference):
            median = float(np.median(difference))
            low, high = _median_interval(difference, seed=seed)
        else:
            median, low, high = math.nan, math.nan, math.nan
        # A two-sided test at ``level`` has the power of a one-sided test at level / 2.
        spread = float(np.std(difference, ddof=1)) if len(difference) > 1 else math.nan
        grouped = claim.get("groups") is not None
        records.append({
            "method": claim["method"], "against": claim["against"], "metric": claim["metric"], "family": family,
            "level": alpha, "unit": "slide" if grouped else "patch", "patches": [int(i) for i in claim["patches"]],
            "slides": len(difference) if grouped else None, "n": n, "needed": needed, "outcome": outcome,
            "p": plain_float(p), "p_holm": plain_float(p_holm),
            "differences": [plain_float(value) for value in difference],
            "median_difference": plain_float(median), "ci95": [plain_float(low), plain_float(high)],
            "detectable_difference": plain_float(detectable_difference(spread, len(difference), level=level / 2)),
            "patches_for_target": patches_needed(spread, TARGET_DIFFERENCE, level=level / 2),
        })
    return records


def is_primary(claim: dict) -> bool:
    """Whether a claim (or its record) is one page one rests on (:data:`PRIMARY_CLAIMS`)."""
    return (claim["against"], claim["metric"]) in PRIMARY_CLAIMS


def decide_report_claims(claims: list[dict], *, alpha: float = 0.05, seed: int = 0) -> list[dict]:
    """The report's claims, decided as a hierarchy fixed in advance: the primary family (:data:`PRIMARY_CLAIMS`)
    at ``PRIMARY_SHARE * alpha``, then the secondary family at the rest, or at the full ``alpha`` when every
    primary claim was decided (module docstring).  Records as :func:`decide_claims`, in the order given."""
    primary = [claim for claim in claims if is_primary(claim)]
    secondary = [claim for claim in claims if not is_primary(claim)]
    decided_primary = decide_claims(primary, alpha=PRIMARY_SHARE * alpha, seed=seed, family="primary")
    all_decided = bool(decided_primary) and all(r["outcome"] in ("better", "worse") for r in decided_primary)
    secondary_level = alpha if all_decided else (1 - PRIMARY_SHARE) * alpha
    primary_records = iter(decided_primary)
    secondary_records = iter(decide_claims(secondary, alpha=secondary_level, seed=seed, family="secondary"))
    return [next(primary_records if is_primary(claim) else secondary_records) for claim in claims]


def _median_interval(values: np.ndarray, *, seed: int, n_resamples: int = 2000) -> tuple[float, float]:
    """Percentile-bootstrap 95 % interval of the median of ``values``."""
    if len(values) < 2:
        value = float(values[0]) if len(values) else math.nan
        return value, value
    generator = np.random.default_rng(seed)
    medians = np.median(values[generator.integers(0, len(values), size=(n_resamples, len(values)))], axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    return float(low), float(high)

