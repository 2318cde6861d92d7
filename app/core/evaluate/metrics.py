"""Classification metrics at a threshold, in NumPy alone (positive class = PNEUMONIA, label 1).

One module for both `evaluate` commands (`pneumoscan-cli evaluate` on the base install and
`python -m model_training evaluate`), for `calibrate` and for training's finalize and stress test, so
a figure means the same everywhere. The definitions are scikit-learn's (tests compare them): the AUC
from average ranks (ties count one half), average precision as the step sum over distinct scores,
zero where a ratio has no denominator.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ECE_BINS = 15
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
INTERVAL_KEYS = ("accuracy", "sensitivity", "specificity", "precision", "f1", "auc", "ece", "brier")


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def confusion(y: np.ndarray, predicted: np.ndarray) -> list[list[int]]:
    """[[tn, fp], [fn, tp]]."""
    y, predicted = np.asarray(y, int), np.asarray(predicted, int)
    return [[int(np.sum((y == t) & (predicted == q))) for q in (0, 1)] for t in (0, 1)]


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their ranks."""
    order = np.argsort(x, kind="mergesort")
    ordered = x[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ordered)) + 1]
    ends = np.r_[starts[1:], len(x)]
    ranks = np.empty(len(x))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (the Mann-Whitney U of the positives); None without both classes."""
    y = np.asarray(y, int)
    positives, negatives = int(y.sum()), int((y == 0).sum())
    if not positives or not negatives:
        return None
    ranks = _average_ranks(np.asarray(scores, np.float64))
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _cumulative_counts(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true positives, false positives, threshold) at each distinct score, highest score first."""
    order = np.argsort(-np.asarray(scores, np.float64), kind="mergesort")
    ordered, labels = np.asarray(scores, np.float64)[order], np.asarray(y, int)[order]
    last = np.r_[np.flatnonzero(np.diff(ordered)), len(ordered) - 1]  # the last index of each run of ties
    tp = np.cumsum(labels)[last]
    return tp, last + 1 - tp, ordered[last]


def roc_curve(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, threshold), from (0, 0) at an infinite threshold."""
    tp, fp, thresholds = _cumulative_counts(y, scores)
    positives, negatives = max(int(np.sum(y)), 1), max(len(y) - int(np.sum(y)), 1)
    return np.r_[0.0, fp / negatives], np.r_[0.0, tp / positives], np.r_[np.inf, thresholds]


def average_precision(y: np.ndarray, scores: np.ndarray) -> float | None:
    """Sum over distinct scores of (recall step) x precision; None without both classes."""
    y = np.asarray(y, int)
    if y.min(initial=0) == y.max(initial=0):
        return None
    tp, fp, _ = _cumulative_counts(y, scores)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * tp / (tp + fp)))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, np.float64) - np.asarray(y, np.float64)) ** 2))


def _bin_index(p: np.ndarray, bins: int) -> np.ndarray:
    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Share-weighted mean |observed rate - mean probability| over equal-width probability bins (for P(pneumonia))."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    index = _bin_index(p, bins)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    return float(total)


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean probability, observed pneumonia rate, count) of each non-empty equal-width bin: the reliability diagram."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    index = _bin_index(p, bins)
    counts = np.bincount(index, minlength=bins)
    kept = counts > 0
    mean_p = np.bincount(index, p, bins)[kept] / counts[kept]
    observed = np.bincount(index, y, bins)[kept] / counts[kept]
    return mean_p, observed, counts[kept]


def compute_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    """The metrics.json keys of both evaluate commands; `confusion_matrix` is [[tn, fp], [fn, tp]]."""
    y, p = np.asarray(y, int), np.asarray(p, float)
    matrix = confusion(y, p >= threshold)
    (tn, fp), (fn, tp) = matrix
    return {
        "accuracy": _ratio(tn + tp, len(y)),
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "precision": _ratio(tp, tp + fp),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "auc": roc_auc(y, p),
        "average_precision": average_precision(y, p),
        "brier": brier(y, p),
        "ece": expected_calibration_error(y, p),
        "threshold": float(threshold),
        "n": int(len(y)),
        "n_normal": int((y == 0).sum()),
        "n_pneumonia": int((y == 1).sum()),
        "confusion_matrix": matrix,
    }


def bootstrap_intervals(y: np.ndarray, p: np.ndarray, threshold: float, resamples: int = BOOTSTRAP_RESAMPLES,
                        seed: int = BOOTSTRAP_SEED, keys: tuple[str, ...] = INTERVAL_KEYS) -> dict[str, list[float] | None]:
    """Percentile 95 % intervals of `keys` over `resamples` draws with replacement (a fixed seed: the same
    folder always gives the same intervals). A draw without both classes has no AUC and is skipped for it."""
    y, p = np.asarray(y, int), np.asarray(p, float)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {key: [] for key in keys}
    for _ in range(resamples if len(y) else 0):
        pick = rng.integers(0, len(y), len(y))
        metrics = compute_metrics(y[pick], p[pick], threshold)
        for key in keys:
            if metrics[key] is not None:
                draws[key].append(metrics[key])
    return {key: [float(v) for v in np.percentile(values, [2.5, 97.5])] if values else None
            for key, values in draws.items()}
