"""Fitting the engine's domain check: feature distribution on the training split, cut-off on validation."""

from __future__ import annotations

import numpy as np
from sklearn.covariance import LedoitWolf

from app.core.model.domain import DomainGate

CUTOFF_PERCENTILE = 99.5


def fit_domain_gate(train_features: np.ndarray, val_features: np.ndarray,
                    percentile: float = CUTOFF_PERCENTILE) -> tuple[DomainGate, np.ndarray]:
    """Mean and Ledoit-Wolf precision of the training features (1280 dimensions from ~4000 images
    need shrinkage to be invertible), and the cut-off at `percentile` of the validation distances."""
    estimate = LedoitWolf().fit(np.asarray(train_features, np.float64))
    unbounded = DomainGate(estimate.location_, estimate.precision_, float("inf"))
    val_scores = unbounded.score(val_features)
    cutoff = float(np.percentile(val_scores, percentile))
    return DomainGate(estimate.location_, estimate.precision_, cutoff), val_scores
