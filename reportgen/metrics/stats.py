"""Uncertainty and paired comparisons for per-image metric values.

- Percentile bootstrap of the mean (Efron and Tibshirani, "An Introduction to
  the Bootstrap", 1993), seeded so a report is reproducible; with slide ids,
  whole slides are resampled (the cluster bootstrap).
- Paired Wilcoxon signed-rank test (Wilcoxon, 1945) between two methods scored
  on the same images, with Holm's step-down correction for the pairwise table
  (Holm, "A Simple Sequentially Rejective Multiple Test Procedure", 1979).

Non-finite values (e.g. a pointing game on an empty mask) are left out of means,
intervals and tests; they appear as ``None`` in per-image lists so report.json
stays valid JSON.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.stats import beta, wilcoxon

from reportgen.errors import ConfigError

#: Largest number of non-zero, untied differences for which the exact Wilcoxon distribution is used.
EXACT_WILCOXON_MAX_N = 50


def _finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).ravel()
    return values[np.isfinite(values)]


def plain_float(value) -> float | None:
    """A JSON-safe float: ``None`` for nan or infinity."""
    value = float(value)
    return value if math.isfinite(value) else None


def _finite_with_groups(values, groups) -> tuple[np.ndarray, np.ndarray | None]:
    values = np.asarray(values, dtype=np.float64).ravel()
    keep = np.isfinite(values)
    if groups is None:
        return values[keep], None
    groups = np.asarray(groups, dtype=object).ravel()
    if groups.shape != values.shape:
        raise ConfigError(f"{groups.size} group labels for {values.size} values; pass one slide id per patch")
    return values[keep], groups[keep]


def bootstrap_ci(
    values, *, seed: int, n_resamples: int = 2000, confidence: float = 0.95, groups=None
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean.

    Parameters
    ----------
    values : (N,) per-image values; non-finite ones are dropped.
    seed : seed of ``np.random.default_rng`` drawing the resamples.
    n_resamples : number of resamples with replacement (default 2000).
    confidence : interval coverage (default 0.95).
    groups : (N,) slide id of each value, or ``None``.  With groups the
        resampling unit is the slide (the cluster bootstrap; Davison and
        Hinkley, "Bootstrap Methods and their Application", 1997, section 3.8):
        whole slides are drawn with replacement and the mean is taken over all
        their patches, because patches of one slide are not independent.

    Returns
    -------
    (low, high) floats; ``(v, v)`` for a single value (or a single slide) and ``(nan, nan)`` for none.
    """
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence={confidence!r} must lie strictly between 0 and 1 (e.g. 0.95)")
    if n_resamples < 1:
        raise ConfigError(f"n_resamples={n_resamples!r} must be a positive integer (default 2000)")
    values, groups = _finite_with_groups(values, groups)
    if len(values) == 0:
        return (math.nan, math.nan)
    generator = np.random.default_rng(seed)
    if groups is None:
        if len(values) == 1:
            return (float(values[0]), float(values[0]))
        means = values[generator.integers(0, len(values), size=(n_resamples, len(values)))].mean(axis=1)
    else:
        _, slide = np.unique(groups.astype(str), return_inverse=True)
        sums = np.bincount(slide, weights=values)
        counts = np.bincount(slide).astype(np.float64)
        if len(sums) == 1:
            mean = float(sums[0] / counts[0])
            return (mean, mean)
        drawn = generator.integers(0, len(sums), size=(n_resamples, len(sums)))
        means = sums[drawn].sum(axis=1) / counts[drawn].sum(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return (float(low), float(high))


def mean_with_interval(values, *, seed: int, groups=None) -> dict:
    """Mean, bootstrap 95% interval and per-image values as plain JSON-safe numbers.

    ``groups`` (N,) slide ids make the interval resample slides (:func:`bootstrap_ci`).

    Returns
    -------
    ``{"mean": float | None, "ci95": [low, high], "per_image": [float | None, ...]}``
    (``None`` where a value is not finite).
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    finite = _finite(values)
    low, high = bootstrap_ci(values, seed=seed, groups=groups)
    return {
        "mean": plain_float(finite.mean()) if len(finite) else None,
        "ci95": [plain_float(low), plain_float(high)],
        "per_image": [plain_float(v) for v in values],
    }


def exact_share_interval(share: float, units: int, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval of a share observed on ``units`` independent units (Clopper and Pearson,
    Biometrika 1934), with ``share * units`` events (not necessarily whole: a slide-averaged share).

    The lower end is the alpha/2 quantile of Beta(k, n - k + 1), the upper the 1 - alpha/2 quantile of
    Beta(k + 1, n - k); 0 and 1 at the ends.
    """
    if units < 1 or not math.isfinite(share):
        return (math.nan, math.nan)
    events, tail = share * units, (1 - confidence) / 2
    low = 0.0 if events <= 0 else float(beta.ppf(tail, events, units - events + 1))
    high = 1.0 if events >= units else float(beta.ppf(1 - tail, events + 1, units - events))
    return (low, high)


def paired_wilcoxon(a, b) -> dict:
    """Two-sided Wilcoxon signed-rank test of paired per-image values ``a`` and ``b`` (N,).

    Pairs with a non-finite value are dropped; zero differences are dropped
    (scipy's ``zero_method="wilcox"``).  The p-value is exact for up to
    :data:`EXACT_WILCOXON_MAX_N` non-zero differences without ties, otherwise the
    tie-corrected normal approximation (deterministic either way).  When every difference is zero (or no
    pair is left) there is no evidence of a difference: statistic 0.0, p 1.0.

    Returns
    -------
    ``{"statistic": float, "p_value": float, "n": int}`` where ``n`` counts the non-zero
    differences of finite pairs, the sample the test ranks (Wilcoxon's rule, as in
    :mod:`reportgen.metrics.verdicts`); zero differences carry no sign and are not counted.
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ConfigError(f"paired samples have {a.size} and {b.size} values; pass one value per image for both")
    keep = np.isfinite(a) & np.isfinite(b)
    differences = a[keep] - b[keep]
    nonzero = np.abs(differences[differences != 0])
    if len(nonzero) == 0:
        return {"statistic": 0.0, "p_value": 1.0, "n": 0}
    # scipy's "auto" falls back to a random permutation test when |differences| tie,
    # which is slow and not reproducible; the tie-corrected normal approximation is neither.
    exact = len(nonzero) <= EXACT_WILCOXON_MAX_N and len(np.unique(nonzero)) == len(nonzero)
    result = wilcoxon(
        differences, zero_method="wilcox", alternative="two-sided", method="exact" if exact else "asymptotic"
    )
    return {"statistic": float(result.statistic), "p_value": float(result.pvalue), "n": len(nonzero)}


def holm_correction(p_values) -> list[float]:
    """Holm step-down adjusted p-values, in the input order (monotone, capped at 1)."""
    p_values = np.asarray(p_values, dtype=np.float64).ravel()
    m = len(p_values)
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(np.argsort(p_values, kind="stable")):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return [float(p) for p in adjusted]


def pairwise_wilcoxon(values_by_method: dict[str, np.ndarray]) -> list[dict]:
    """Paired Wilcoxon test for every pair of methods, Holm-corrected across the pairs.

    Parameters
    ----------
    values_by_method : name -> (N,) per-image values on the same images.

    Returns
    -------
    One dict per pair, in the order of the names:
    ``{"a", "b", "mean_difference", "statistic", "p_value", "p_holm", "n"}``.
    """
    rows = []
    for first, second in itertools.combinations(values_by_method, 2):
        a = np.asarray(values_by_method[first], dtype=np.float64)
        b = np.asarray(values_by_method[second], dtype=np.float64)
        test = paired_wilcoxon(a, b)
        keep = np.isfinite(a) & np.isfinite(b)
        difference = float(np.mean(a[keep] - b[keep])) if keep.any() else None
        rows.append({"a": first, "b": second, "mean_difference": difference, **test})
    for row, adjusted in zip(rows, holm_correction([row["p_value"] for row in rows])):
        row["p_holm"] = adjusted
    return rows


def rate_with_interval(values, *, seed: int, groups=None) -> dict:
    """Mean and bootstrap 95 % interval of per-patch values, with how many patches and slides they come from.

    For the model-level checks, which run on hundreds or thousands of patches: no per-patch list.

    Parameters
    ----------
    values : (N,) per-patch values (e.g. 1.0 where a prediction flipped); non-finite ones are left out.
    seed : the bootstrap's seed; groups : (N,) slide ids or ``None`` (:func:`bootstrap_ci`).

    Returns
    -------
    ``{"mean": float | None, "ci95": [low, high], "n": finite values, "slides": slides among them or None}``.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    record = mean_with_interval(values, seed=seed, groups=groups)
    finite = np.isfinite(values)
    slides = None if groups is None else len(set(np.asarray(groups, dtype=object).ravel()[finite].astype(str).tolist()))
    return {"mean": record["mean"], "ci95": record["ci95"], "n": int(finite.sum()), "slides": slides}


def share_with_interval(events, *, seed: int, groups=None) -> dict:
    """A share of patches with an event (1.0) or without (0.0), with a 95 % interval that cannot collapse.

    The percentile bootstrap (by slide with ``groups``) gives a zero-width interval when every unit has the same
    outcome (0 of 14 tumour calls lost reads [0, 0]), which would let a handful of patches clear a model.
    The interval is therefore the union of the bootstrap's and the exact binomial interval of the same share on
    the same patches (:func:`exact_share_interval`), the least uncertainty the patches allow even when they
    are independent: 0 of 14 reads [0, 0.23].  With slide ids the cluster bootstrap adds what slides differ.

    Returns
    -------
    :func:`rate_with_interval`'s record: ``{"mean", "ci95", "n", "slides"}``.
    """
    record = rate_with_interval(events, seed=seed, groups=groups)
    if record["mean"] is not None:
        low, high = exact_share_interval(record["mean"], record["n"])
        record["ci95"] = [plain_float(min(low, record["ci95"][0])), plain_float(max(high, record["ci95"][1]))]
    return record
