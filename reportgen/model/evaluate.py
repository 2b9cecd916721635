"""Held-out performance of the classifier, for the report's model card.

Metrics are plain functions of arrays (:func:`classification_metrics`);
:func:`evaluate_model` only runs the model over a split and calls it. Every
value is a plain float, int, list or ``None`` (undefined, e.g. sensitivity
without positives), so the result goes into report.json unchanged.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from scipy.stats import rankdata

from reportgen.errors import DataError
from reportgen.inference import model_device, predict_proba
from reportgen.metrics.stats import plain_float, share_with_interval

logger = logging.getLogger(__name__)

#: Guo et al. (2017) use 15 equal-width confidence bins.
ECE_BINS = 15


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve from ranks (Mann-Whitney U / (n_pos * n_neg)).

    Tied scores share their average rank, which counts a tie as half a
    correctly ordered pair (Hanley & McNeil, Radiology 1982).

    Parameters
    ----------
    scores : (N,) float, higher = more likely positive.
    labels : (N,) int in {0, 1}.

    Returns
    -------
    AUC in [0, 1], or ``None`` when only one class is present.
    """
    labels = np.asarray(labels).astype(bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return None
    ranks = rankdata(np.asarray(scores, dtype=np.float64))
    rank_sum = float(ranks[labels].sum())
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def calibration(confidence: np.ndarray, correct: np.ndarray, *, n_bins: int = ECE_BINS) -> dict:
    """Expected calibration error and reliability-diagram data.

    Guo, Pleiss, Sun & Weinberger, "On Calibration of Modern Neural Networks",
    ICML 2017: equal-width bins ``((m-1)/M, m/M]`` on the top-1 confidence,
    ``ECE = sum_m |B_m|/N * |acc(B_m) - conf(B_m)|``.

    Parameters
    ----------
    confidence : (N,) float in [0, 1], probability of the predicted class.
    correct : (N,) bool, prediction equals label.
    n_bins : number of bins M (default 15).

    Returns
    -------
    dict with ``ece`` (float, ``None`` for N = 0), ``bin_edges`` (M + 1
    floats), ``accuracy`` and ``confidence`` per bin (M floats, ``None`` for
    an empty bin) and ``count`` per bin (M ints): the keys report.json and the
    reliability diagram use.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Right-closed bins; a confidence of exactly 0 joins the first bin.
    bins = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    accuracy_sum = np.bincount(bins, weights=correct.astype(np.float64), minlength=n_bins)
    confidence_sum = np.bincount(bins, weights=confidence, minlength=n_bins)
    filled = counts > 0
    bin_accuracy = np.divide(accuracy_sum, counts, out=np.zeros(n_bins), where=filled)
    bin_confidence = np.divide(confidence_sum, counts, out=np.zeros(n_bins), where=filled)
    total = len(confidence)
    ece = float(np.sum(counts / total * np.abs(bin_accuracy - bin_confidence))) if total else None
    return {
        "ece": ece,
        "n_bins": n_bins,
        "bin_edges": [float(edge) for edge in edges],
        "accuracy": [float(v) if f else None for v, f in zip(bin_accuracy, filled)],
        "confidence": [float(v) if f else None for v, f in zip(bin_confidence, filled)],
        "count": [int(count) for count in counts],
    }


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray, *, n_bins: int = ECE_BINS) -> dict:
    """Model-card metrics of a binary classifier from its softmax outputs.

    Parameters
    ----------
    probabilities : (N, 2) float, softmax over (normal, tumour).
    labels : (N,) int in {0, 1} (1 = tumour, the positive class).
    n_bins : ECE bins (default 15, Guo et al. 2017).

    Returns
    -------
    dict: ``n``, ``accuracy``, ``roc_auc`` (of the tumour probability),
    ``sensitivity`` (tp / (tp + fn)), ``specificity`` (tn / (tn + fp)),
    ``confusion_matrix`` ``[[tn, fp], [fn, tp]]`` (rows = true class), ``ece``
    and ``reliability`` (see :func:`calibration`). Undefined values are ``None``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if probabilities.ndim != 2 or probabilities.shape[1] != 2 or len(probabilities) != len(labels):
        raise DataError(
            f"metrics need (N, 2) probabilities and (N,) labels; got {probabilities.shape} and "
            f"{labels.shape}"
        )
    predictions = probabilities.argmax(axis=1)
    tn = int(np.sum((labels == 0) & (predictions == 0)))
    fp = int(np.sum((labels == 0) & (predictions == 1)))
    fn = int(np.sum((labels == 1) & (predictions == 0)))
    tp = int(np.sum((labels == 1) & (predictions == 1)))
    reliability = calibration(probabilities.max(axis=1), predictions == labels, n_bins=n_bins)
    return {
        "n": int(len(labels)),
        "accuracy": _ratio(tp + tn, len(labels)),
        "roc_auc": roc_auc(probabilities[:, 1], labels),
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "confusion_matrix": [[tn, fp], [fn, tp]],
        "ece": reliability.pop("ece"),
        "reliability": reliability,
    }


def evaluation_intervals(probabilities: np.ndarray, labels: np.ndarray, *, seed: int, groups=None,
                         n_resamples: int = 2000) -> dict:
    """95 % intervals of the accuracy and the expected calibration error, in the report's unit.

    Parameters
    ----------
    probabilities : (N, 2) softmax outputs; labels : (N,) int.
    seed : seed of the bootstrap resamples.
    groups : (N,) slide ids, or ``None``.  With slide ids the unit is the slide: the accuracy's interval is
        :func:`reportgen.metrics.stats.share_with_interval`'s, and the ECE's resamples whole slides (the cluster
        bootstrap), because patches of one slide share its stain, scanner and tissue.
    n_resamples : bootstrap resamples of the ECE (default 2000).

    Returns
    -------
    ``{"unit": "slide" | "patch", "units": int, "accuracy": {"mean", "ci95"}, "ece": {"mean", "ci95"}}``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    predictions = probabilities.argmax(axis=1)
    confidence, correct = probabilities.max(axis=1), predictions == labels
    accuracy = share_with_interval(correct.astype(np.float64), seed=seed, groups=groups)
    units = np.arange(len(labels)) if groups is None else np.unique(np.asarray(groups).astype(str),
                                                                     return_inverse=True)[1].reshape(-1)
    members = [np.flatnonzero(units == unit) for unit in range(int(units.max()) + 1)] if len(units) else []
    generator = np.random.default_rng(seed)
    eces = []
    for _ in range(n_resamples if len(members) > 1 else 0):
        chosen = np.concatenate([members[i] for i in generator.integers(0, len(members), size=len(members))])
        eces.append(calibration(confidence[chosen], correct[chosen])["ece"])
    ece = calibration(confidence, correct)["ece"]
    low, high = np.percentile(eces, [2.5, 97.5]) if eces else (ece, ece)
    return {"unit": "patch" if groups is None else "slide", "units": len(members),
            "accuracy": {"mean": accuracy["mean"], "ci95": accuracy["ci95"]},
            "ece": {"mean": ece, "ci95": [plain_float(low), plain_float(high)]}}


def evaluation_indices(size: int, limit: int | None) -> np.ndarray | None:
    """Evenly spaced indices when ``limit < size`` (robust to files sorted by label), else ``None``."""
    if limit is None or limit >= size:
        return None
    if limit < 1:
        raise DataError(f"evaluation limit {limit} must be at least 1")
    return np.unique(np.linspace(0, size - 1, limit).round().astype(np.int64))


def predict_split(
    model: torch.nn.Module,
    split,
    *,
    indices: np.ndarray | None = None,
    batch_size: int = 256,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Softmax outputs and labels over a split, read in contiguous batches.

    Returns
    -------
    probabilities : (n, 2) float32.
    labels : (n,) int64.
    """
    from reportgen.data import as_float_tensor

    was_training = model.training
    model.eval()
    probabilities, labels = [], []
    try:
        for batch in split.iter_batches(batch_size, indices=indices, shuffle=False, progress=progress):
            images = as_float_tensor(batch.images)
            probabilities.append(predict_proba(model, images, batch_size=batch_size).numpy())
            labels.append(np.asarray(batch.labels, dtype=np.int64))
    finally:
        model.train(was_training)
    if not probabilities:
        return np.zeros((0, 2), dtype=np.float32), np.zeros(0, dtype=np.int64)
    return np.concatenate(probabilities), np.concatenate(labels)


def evaluate_model(
    model: torch.nn.Module,
    split,
    *,
    limit: int | None = None,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> dict:
    """Run ``model`` over a split and compute :func:`classification_metrics`.

    Parameters
    ----------
    model : classifier taking (B, 3, 96, 96) float in [0, 1], returning (B, 2) logits.
    split : object with ``__len__`` and ``iter_batches`` (a PCam split).
    limit : at most this many patches, evenly spaced over the split; default
        ``None`` uses all.
    batch_size : patches per forward pass (default 256).
    device : move the model here first; default ``None`` keeps its device.
    progress : show a progress bar (default False).

    Returns
    -------
    dict of plain types (see :func:`classification_metrics`) plus ``limit``.
    """
    if device is not None and torch.device(device) != model_device(model):
        model.to(device)
    _, probabilities, labels = predict_evaluation_set(model, split, limit=limit, batch_size=batch_size,
                                                      progress=progress)
    metrics = classification_metrics(probabilities, labels)
    metrics["limit"] = limit
    return metrics


def predict_evaluation_set(
    model: torch.nn.Module,
    split,
    *,
    limit: int | None = None,
    batch_size: int = 256,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's outputs on the patches the model card is computed from.

    Parameters
    ----------
    limit : at most this many patches, evenly spaced (see :func:`evaluation_indices`);
        ``None`` uses the whole split.

    Returns
    -------
    indices : (n,) int64 positions in the split.
    probabilities : (n, 2) float32 softmax outputs.
    labels : (n,) int64.
    """
    indices = evaluation_indices(len(split), limit)
    probabilities, labels = predict_split(model, split, indices=indices, batch_size=batch_size, progress=progress)
    if indices is None:
        indices = np.arange(len(split), dtype=np.int64)
    return indices, probabilities, labels
