"""`evaluate`: score a model on a labelled folder through the engine's own folder scan.

The scan's CSV (`predictions.csv`) keeps every image's probability, so the metrics can be checked
or recomputed; files that cannot be read are listed in metrics.json and left out of the metrics.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from app.core.scan import scan_folder
from app.core.screening import Screener
from model_training.metrics import compute_metrics
from model_training.plots import evaluation_plots
from model_training.splits import CLASSES


def evaluate(model: Path, data: Path, out: Path) -> dict:
    for name in CLASSES:
        if not (data / name).is_dir():
            raise SystemExit(f"{data / name} is missing: --data needs NORMAL/ and PNEUMONIA/ folders")
    out.mkdir(parents=True, exist_ok=True)
    screener = Screener(model)
    predictions = out / "predictions.csv"
    for update in scan_folder(screener, data, predictions, recursive=True, batch_size=32):
        print(f"\r{update.done}/{update.total} images", end="", flush=True)
    print()
    with open(predictions, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["path"].split("/")[0] in CLASSES]
    scored = [r for r in rows if r["status"] != "error"]
    y = np.array([CLASSES.index(r["path"].split("/")[0]) for r in scored])
    p = np.array([float(r["probability"]) for r in scored])
    metrics = compute_metrics(y, p, screener.card.threshold)
    metrics["model_version"] = screener.version
    metrics["n_out_of_domain"] = sum(r["in_domain"] == "false" for r in scored)
    metrics["errors"] = {r["path"]: r["error"] for r in rows if r["status"] == "error"}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    evaluation_plots(y, p, metrics, out, f"{data.name} ({len(y)} images)")
    return metrics


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
