"""Seeded, stratified choices of patches: training subsets and audit cases.

The notebook picked its figures by hand; here every choice comes from a seed
and a rule the report can state (docs/metrics.md#every-choice-reproducible-from-a-seed).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from reportgen.errors import ConfigError

STRATA = ("TP", "TN", "FP", "FN")
# When n is smaller than the number of non-empty strata, errors come first:
# they are what an auditor most needs to see.
_PRIORITY = ("FN", "FP", "TP", "TN")


def stratified_subset(labels: np.ndarray, fraction: float, *, seed: int) -> np.ndarray:
    """Indices of a random subset with the class proportions of ``labels``.

    Parameters
    ----------
    labels : (N,) int class labels.
    fraction : share of each class to keep, in (0, 1] (``--train-fraction``).
    seed : seed of the draw.

    Returns
    -------
    (M,) int64 sorted indices; each class contributes round(fraction * count),
    at least one patch for every class that is present.
    """
    labels = np.asarray(labels)
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"fraction={fraction} is outside (0, 1]; pass e.g. 0.1 for a 10% subset")
    rng = np.random.default_rng(seed)
    chosen = []
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        keep = max(1, int(round(fraction * len(members))))
        chosen.append(rng.choice(members, size=keep, replace=False))
    if not chosen:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.concatenate(chosen)).astype(np.int64)


class CaseSelection(NamedTuple):
    """Patches chosen for the audit.

    indices : (n,) int64 patch indices, grouped by stratum (TP, TN, FP, FN),
        each group ordered from least to most confident.
    strata : (n,) str, "TP", "TN", "FP" or "FN" for each index (positive class 1).
    description : one sentence stating how the cases were chosen, for the report.
    """

    indices: np.ndarray
    strata: np.ndarray
    description: str


def _confidence(predictions: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    if probabilities.ndim == 2:
        return probabilities[np.arange(len(predictions)), predictions]
    # One column holds either p(class 1) or p(predicted class); for binary
    # argmax predictions max(p, 1 - p) is the predicted class's probability in both cases.
    return np.maximum(probabilities, 1.0 - probabilities)


def _allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Split ``n`` across strata: one for each non-empty stratum, the rest in proportion to size."""
    present = [name for name in _PRIORITY if sizes[name] > 0]
    counts = dict.fromkeys(STRATA, 0)
    for name in present[:n]:
        counts[name] = 1
    remaining = n - sum(counts.values())
    while remaining > 0:
        # Largest remainder on the room left in each stratum.
        room = {name: sizes[name] - counts[name] for name in present}
        total_room = sum(room.values())
        shares = {name: remaining * room[name] / total_room for name in present}
        floors = {name: min(room[name], int(np.floor(shares[name]))) for name in present}
        for name in present:
            counts[name] += floors[name]
        remaining -= sum(floors.values())
        by_remainder = sorted(present, key=lambda name: (-(shares[name] - floors[name]), _PRIORITY.index(name)))
        for name in by_remainder:
            if remaining == 0:
                break
            if counts[name] < sizes[name]:
                counts[name] += 1
                remaining -= 1
    return counts


def _by_slide(members: np.ndarray, slides: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` of ``members`` (indices) whose slide ids are ``slides``: slides in a seeded order give one patch each
    in turn, each slide's patches in a seeded order, so k patches cover min(k, slides) slides."""
    names = sorted({str(s) for s in slides})
    queues = [list(rng.permutation(members[np.asarray([str(s) for s in slides]) == name]))
              for name in rng.permutation(names)]
    chosen = []
    while len(chosen) < k:
        for queue in queues:
            if queue and len(chosen) < k:
                chosen.append(queue.pop(0))
    return np.asarray(chosen, dtype=np.int64)


def select_cases(
    labels: np.ndarray,
    predictions: np.ndarray,
    probabilities: np.ndarray,
    n: int,
    *,
    seed: int,
    slide_ids=None,
) -> CaseSelection:
    """Choose ``n`` patches spread over outcome (TP/TN/FP/FN) and confidence.

    ``n`` is shared across the four strata in proportion to their size, but
    every non-empty stratum gets at least one patch (errors are rare and are
    what an auditor wants to see). Within a stratum, patches are sorted by
    confidence and one is taken from each of k quantile bins of whole positions
    (so no patch twice) at a seeded random position, so the choice covers confident and borderline
    cases instead of the first N.

    Parameters
    ----------
    labels : (N,) int ground truth in {0, 1}.
    predictions : (N,) int predicted class in {0, 1}.
    probabilities : (N, 2) softmax probabilities, or (N,) probability of class 1
        or of the predicted class (binary argmax predictions assumed).
    n : number of cases, 1 <= n <= N.
    seed : seed of the within-bin jitter.
    slide_ids : (N,) slide id of each patch, or None (default). Given, each stratum's patches come from its
        slides in turn (:func:`_by_slide`) instead of from confidence bins, so the cases cover as many slides
        as the stratum has.

    Returns
    -------
    CaseSelection(indices, strata, description).
    """
    labels = np.asarray(labels).astype(np.int64)
    predictions = np.asarray(predictions).astype(np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if len(labels) != len(predictions) or len(labels) != len(probabilities):
        raise ValueError(
            f"labels ({len(labels)}), predictions ({len(predictions)}) and probabilities "
            f"({len(probabilities)}) must have the same length"
        )
    if not 1 <= n <= len(labels):
        raise ConfigError(f"number of cases n={n} must be between 1 and the {len(labels)} patches available")
    outcome = np.where(
        labels == 1, np.where(predictions == 1, "TP", "FN"), np.where(predictions == 1, "FP", "TN")
    )
    confidence = _confidence(predictions, probabilities)
    members = {name: np.flatnonzero(outcome == name) for name in STRATA}
    counts = _allocate({name: len(found) for name, found in members.items()}, n)

    rng = np.random.default_rng(seed)
    indices, strata = [], []
    for name in STRATA:
        k = counts[name]
        if k == 0:
            continue
        if slide_ids is not None:
            indices.append(_by_slide(members[name], np.asarray(slide_ids)[members[name]], k, rng))
            strata.extend([name] * k)
            continue
        # Stable sort so equal confidences keep index order on every platform.
        ordered = members[name][np.argsort(confidence[members[name]], kind="stable")]
        # k bins of whole positions (edges floor(i * size / k)), none empty as k <= size, so no patch is drawn twice.
        edges = (np.arange(k + 1) * len(ordered)) // k
        positions = edges[:-1] + np.floor(rng.random(k) * np.diff(edges)).astype(np.int64)
        indices.append(ordered[positions])
        strata.extend([name] * k)

    summary = ", ".join(f"{counts[name]} {name} of {len(members[name])}" for name in STRATA)
    spread = ("spread over slides: within each stratum the slides, in a seeded order, give one patch each in turn "
              "(each slide's patches in a seeded order) until the stratum's share is reached"
              if slide_ids is not None else "spread over confidence by one seeded draw per quantile bin")
    description = (
        f"{n} cases chosen with seed {seed}: {summary}; shared in proportion to stratum size with at least "
        f"one case from every non-empty stratum, {spread}."
    )
    return CaseSelection(np.concatenate(indices).astype(np.int64), np.asarray(strata), description)
