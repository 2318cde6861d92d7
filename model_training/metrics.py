"""Classification metrics at a threshold: the engine's NumPy module (`app.core.evaluate.metrics`), so training's
validation, stress test and `evaluate` report exactly what `pneumoscan-cli evaluate` reports."""

from __future__ import annotations

from app.core.evaluate.metrics import compute_metrics

__all__ = ["compute_metrics"]
