"""`evaluate`: score a model on a labelled folder with the engine, metrics from unrounded logits.

Every image goes through the engine's `Screener` (the card's preprocessing, temperature, threshold and
domain check). AUC, ECE and the curves use the full-precision probability, not the 6-decimal CSV
value, where a saturated model's many 1.000000 would tie and lower the AUC. `predictions.csv` keeps
every image's logit and probability so the metrics can be checked; unreadable files are listed in
metrics.json and left out of the metrics.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from app.core.evaluate.report import ScoredFile, score_files
from app.core.io.outputs import atomic_write_bytes
from app.core.progress import counting
from app.core.screening import Screener
from model_training.metrics import compute_metrics
from model_training.plots import evaluation_plots
from model_training.splits import CLASSES, list_samples


def evaluate(model: Path, data: Path, out: Path) -> dict:
    samples = list_samples(data)  # raises FileNotFoundError naming a missing class folder
    out.mkdir(parents=True, exist_ok=True)
    screener = Screener(model)
    card = screener.card
    with counting(len(samples), "images", "evaluate") as progress:
        rows, errors = score_files(screener, [s.path for s in samples], progress)
    label_of = {s.path: s.label for s in samples}
    y = np.array([label_of[row.path] for row in rows])
    p = screener.probabilities(np.array([row.logit for row in rows], np.float64))
    _write_predictions(out / "predictions.csv", data, rows, p, card.threshold)
    metrics = compute_metrics(y, p, card.threshold)
    metrics["model_version"] = card.version
    metrics["sha256"] = card.sha256
    metrics["n_out_of_domain"] = sum(not row.in_domain for row in rows)
    metrics["errors"] = {str(Path(k).relative_to(data)): v for k, v in errors.items()}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    evaluation_plots(y, p, metrics, out, f"{data.name} ({len(y)} images)")
    return metrics


def _write_predictions(path: Path, data: Path, rows: list[ScoredFile], p: np.ndarray, threshold: float) -> None:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["path", "label", "logit", "probability", "prediction", "in_domain"])
    for row, probability in zip(rows, p):
        relative = Path(row.path).relative_to(data)
        writer.writerow([relative.as_posix(), relative.parts[0], f"{row.logit:.9g}", f"{probability:.9g}",
                         CLASSES[int(probability >= threshold)], str(row.in_domain).lower()])
    atomic_write_bytes(path, text.getvalue().encode("utf-8"))


def evaluate_command(model: Path, data: Path, out: Path) -> int:
    metrics = evaluate(model, data, out)
    keys = ("n", "accuracy", "sensitivity", "specificity", "precision", "f1", "auc", "ece", "threshold")
    for key in keys:
        value = metrics[key]
        print(f"{key:>12}: {value:.4f}" if isinstance(value, float) else f"{key:>12}: {value}")
    print(f"confusion matrix [[tn, fp], [fn, tp]]: {metrics['confusion_matrix']}")
    if metrics["errors"]:
        print(f"{len(metrics['errors'])} files could not be read (listed in metrics.json)")
    print(f"metrics and plots written to {out}")
    return 0
