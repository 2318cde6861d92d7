"""Operating point and calibration, chosen on the validation split only.

Threshold rule: among the thresholds whose validation sensitivity is at least 0.95, the one with
the highest Youden's J (sensitivity + specificity - 1). A screening tool must not miss pneumonia;
within that constraint, J keeps false alarms as few as the model allows.
Calibration: temperature scaling (Guo et al., 2017), one parameter fitted by maximum likelihood on
the validation logits; kept only if it lowers the expected calibration error.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import roc_curve

from app.core.evaluate.metrics import expected_calibration_error  # noqa: F401 - the engine's, re-exported for training
# Platt scaling (temperature and logit offset) is the engine's, the one `pneumoscan-cli calibrate` fits: a
# temperature alone only sharpens or softens, while class weights and label smoothing shift every logit
# towards one class, which only an offset undoes; finalize folds the offset into the final layer's bias.
from app.core.model.site import fit_platt, sigmoid  # noqa: F401 - re-exported for finalize

MIN_SENSITIVITY = 0.95
THRESHOLD_RULE = "highest Youden's J among thresholds with validation sensitivity >= 0.95"
SHIFTED_THRESHOLD_RULE = ("highest Youden's J on the validation images clean and under the stress suite's shifts, pooled, "
                          "among thresholds with clean validation sensitivity >= 0.95; temperature and logit offset "
                          "(Platt scaling, the offset folded into the final layer's bias) fitted on the same pool")


def fit_temperature(y: np.ndarray, logits: np.ndarray) -> float:
    """Temperature T minimising the validation negative log-likelihood of sigmoid(logit / T)."""
    y, logits = np.asarray(y, float), np.asarray(logits, float)

    def nll(log_t: float) -> float:
        p = np.clip(sigmoid(logits / np.exp(log_t)), 1e-12, 1 - 1e-12)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    return float(np.exp(minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded").x))


def choose_threshold(y: np.ndarray, p: np.ndarray, min_sensitivity: float = MIN_SENSITIVITY) -> float:
    """See the module docstring; falls back to plain Youden's J if no threshold reaches the sensitivity."""
    fpr, tpr, thresholds = roc_curve(y, p)
    finite = np.isfinite(thresholds)
    fpr, tpr, thresholds = fpr[finite], tpr[finite], thresholds[finite]
    j = tpr - fpr
    allowed = tpr >= min_sensitivity
    best = np.argmax(np.where(allowed, j, -np.inf)) if allowed.any() else np.argmax(j)
    return float(thresholds[best])


def choose_threshold_under_shift(y: np.ndarray, p: np.ndarray, y_pool: np.ndarray, p_pool: np.ndarray,
                                 min_sensitivity: float = MIN_SENSITIVITY) -> float:
    """The highest Youden's J on the pooled clean + shifted validation images among the thresholds that
    keep the clean validation sensitivity >= `min_sensitivity`.

    The sensitivity floor stays on the clean images, where pneumonia is as visible as it will be; the
    balance between the classes is struck where the shifted images put it, since on other scanners'
    images the normal films drift towards PNEUMONIA. Asking for 0.95 sensitivity under every shift
    instead would push the threshold down to where shifted normals are called PNEUMONIA.
    """
    fpr, tpr, thresholds = roc_curve(y_pool, p_pool)
    finite = np.isfinite(thresholds)
    fpr, tpr, thresholds = fpr[finite], tpr[finite], thresholds[finite]
    positives = np.sort(np.asarray(p, float)[np.asarray(y) == 1])
    clean_sensitivity = 1.0 - np.searchsorted(positives, thresholds, side="left") / max(len(positives), 1)
    allowed = clean_sensitivity >= min_sensitivity
    j = tpr - fpr
    best = np.argmax(np.where(allowed, j, -np.inf)) if allowed.any() else np.argmax(j)
    return float(thresholds[best])
