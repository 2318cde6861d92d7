"""Classification metrics at a threshold, from scikit-learn (positive class = PNEUMONIA)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from model_training.calibration import expected_calibration_error


def compute_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    """The metrics.json keys; `confusion_matrix` is [[tn, fp], [fn, tp]]."""
    y = np.asarray(y, int)
    p = np.asarray(p, float)
    predicted = (p >= threshold).astype(int)
    both = len(np.unique(y)) == 2
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "sensitivity": float(recall_score(y, predicted, zero_division=0)),
        "specificity": float(recall_score(y, predicted, pos_label=0, zero_division=0)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "auc": float(roc_auc_score(y, p)) if both else None,
        "average_precision": float(average_precision_score(y, p)) if both else None,
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "threshold": float(threshold),
        "n": int(len(y)),
        "n_normal": int((y == 0).sum()),
        "n_pneumonia": int((y == 1).sum()),
        "confusion_matrix": confusion_matrix(y, predicted, labels=[0, 1]).tolist(),
    }
