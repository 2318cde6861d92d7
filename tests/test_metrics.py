"""The engine's NumPy metrics (`app.core.evaluate.metrics`) give scikit-learn's numbers, ties included."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.evaluate import metrics

sk = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("seed", range(20))
def test_metrics_match_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 80))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    p = np.round(rng.random(n), int(rng.integers(1, 4)))  # coarse rounding: many ties
    threshold = float(rng.random())
    predicted = (p >= threshold).astype(int)
    m = metrics.compute_metrics(y, p, threshold)
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(y, predicted), abs=1e-12)
    assert m["sensitivity"] == pytest.approx(sk.recall_score(y, predicted, zero_division=0), abs=1e-12)
    assert m["specificity"] == pytest.approx(sk.recall_score(y, predicted, pos_label=0, zero_division=0), abs=1e-12)
    assert m["precision"] == pytest.approx(sk.precision_score(y, predicted, zero_division=0), abs=1e-12)
    assert m["f1"] == pytest.approx(sk.f1_score(y, predicted, zero_division=0), abs=1e-12)
    assert m["auc"] == pytest.approx(sk.roc_auc_score(y, p), abs=1e-12)
    assert m["average_precision"] == pytest.approx(sk.average_precision_score(y, p), abs=1e-12)
    assert m["brier"] == pytest.approx(sk.brier_score_loss(y, p), abs=1e-12)
    assert m["confusion_matrix"] == sk.confusion_matrix(y, predicted, labels=[0, 1]).tolist()
    fpr, tpr, _ = sk.roc_curve(y, p, drop_intermediate=False)
    ours = metrics.roc_curve(y, p)
    assert np.allclose(ours[0], fpr) and np.allclose(ours[1], tpr)


def test_one_class_has_no_auc_and_ece_is_the_gap_to_the_observed_rate() -> None:
    y, p = np.zeros(4, int), np.array([0.1, 0.1, 0.3, 0.3])
    m = metrics.compute_metrics(y, p, 0.5)
    assert m["auc"] is None and m["average_precision"] is None
    assert m["ece"] == pytest.approx(0.2)  # bins at 0.1 and 0.3, each half the films, none positive


def test_bootstrap_intervals_are_reproducible_and_bracket_the_estimate() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.3 * y + 0.7 * rng.random(300), 0, 1)
    first = metrics.bootstrap_intervals(y, p, 0.5, resamples=200)
    assert first == metrics.bootstrap_intervals(y, p, 0.5, resamples=200)
    estimate = metrics.compute_metrics(y, p, 0.5)
    for key, (lo, hi) in first.items():
        assert lo <= estimate[key] <= hi and lo < hi
    assert first != metrics.bootstrap_intervals(y, p, 0.5, resamples=200, seed=7)
