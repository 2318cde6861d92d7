"""The evaluation and training figures (matplotlib, Agg backend: no screen needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

from app.core.evaluate.labelled import CLASSES  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def confusion_plot(matrix: list[list[int]], threshold: float, path: Path, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    cm = np.asarray(matrix)
    ax.imshow(cm, cmap="Blues")
    for (i, j), value in np.ndenumerate(cm):
        share = value / max(cm[i].sum(), 1)
        ax.text(j, i, f"{value}\n({share:.1%})", ha="center", va="center",
                color="white" if value > cm.max() / 2 else "black", fontsize=11)
    ax.set_xticks([0, 1], CLASSES)
    ax.set_yticks([0, 1], CLASSES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}\nthreshold {threshold:.3f}", fontsize=10)
    return _save(fig, path)


def roc_plot(y: np.ndarray, p: np.ndarray, auc: float, threshold: float, path: Path, title: str) -> Path:
    fpr, tpr, thresholds = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.plot(fpr, tpr, lw=2, label=f"AUC {auc:.4f}")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    predicted = p >= threshold
    point = (predicted[y == 0].mean(), predicted[y == 1].mean())
    ax.scatter(*point, color="crimson", zorder=3, label=f"threshold {threshold:.3f}")
    ax.set_xlabel("1 - specificity (false positive rate)")
    ax.set_ylabel("sensitivity (true positive rate)")
    ax.set_title(f"ROC: {title}", fontsize=10)
    ax.legend(loc="lower right")
    return _save(fig, path)


def pr_plot(y: np.ndarray, p: np.ndarray, ap: float, path: Path, title: str) -> Path:
    precision, recall, _ = precision_recall_curve(y, p)
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.plot(recall, precision, lw=2, label=f"average precision {ap:.4f}")
    ax.axhline(y.mean(), ls="--", color="grey", lw=1, label=f"prevalence {y.mean():.2f}")
    ax.set_xlabel("recall (sensitivity)")
    ax.set_ylabel("precision")
    ax.set_title(f"Precision-recall: {title}", fontsize=10)
    ax.legend(loc="lower left")
    return _save(fig, path)


def calibration_plot(y: np.ndarray, p: np.ndarray, ece: float, path: Path, title: str) -> Path:
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="uniform")
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(4.2, 5.0), height_ratios=[3, 1], sharex=True)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    ax.plot(predicted, observed, marker="o", lw=2, label=f"model (ECE {ece:.4f})")
    ax.set_ylabel("observed share with pneumonia")
    ax.set_title(f"Reliability: {title}", fontsize=10)
    ax.legend(loc="upper left")
    hist.hist(p, bins=20, range=(0, 1), color="steelblue")
    hist.set_xlabel("predicted probability of pneumonia")
    hist.set_ylabel("images")
    return _save(fig, path)


def evaluation_plots(y: np.ndarray, p: np.ndarray, metrics: dict[str, Any], out: Path, title: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [confusion_plot(metrics["confusion_matrix"], metrics["threshold"], out / "confusion_matrix.png", title)]
    if metrics["auc"] is not None:
        paths.append(roc_plot(y, p, metrics["auc"], metrics["threshold"], out / "roc.png", title))
        paths.append(pr_plot(y, p, metrics["average_precision"], out / "precision_recall.png", title))
    paths.append(calibration_plot(y, p, metrics["ece"], out / "calibration.png", title))
    return paths


def training_curves(history: dict[str, dict[str, list[float]]], path: Path, fine_tune_at: int) -> Path:
    """Loss, accuracy and AUC of both phases on one figure, the phase boundary marked."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    offset = 0
    boundaries = []
    for phase, logs in history.items():
        epochs = np.arange(1, len(logs.get("loss", [])) + 1) + offset
        for ax, key in zip(axes, ("loss", "accuracy", "auc")):
            if key in logs:
                ax.plot(epochs, logs[key], marker=".", label=f"{phase} train")
                ax.plot(epochs, logs[f"val_{key}"], marker=".", ls="--", label=f"{phase} validation")
        offset += len(epochs)
        boundaries.append(offset)
    for ax, key in zip(axes, ("loss", "accuracy", "AUC")):
        for boundary in boundaries[:-1]:
            ax.axvline(boundary + 0.5, color="grey", lw=1, ls=":")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Phase 1: frozen backbone | phase 2: fine-tuning from layer {fine_tune_at} (dotted line: phase boundary)",
                 fontsize=10)
    return _save(fig, path)


def stress_plot(report: dict[str, Any], path: Path, title: str, baseline: dict[str, Any] | None = None) -> Path:
    """Specificity and ECE per acquisition shift (bars), a baseline model's beside them if given."""
    names = list(report["per_condition"])
    fig, axes = plt.subplots(2, 1, figsize=(12, 6.4), sharex=True)
    x = np.arange(len(names))
    width = 0.4 if baseline else 0.8
    for ax, key, label in zip(axes, ("specificity", "ece"), ("specificity", "ECE")):
        values = [report["per_condition"][n][key] for n in names]
        ax.bar(x + (width / 2 if baseline else 0), values, width, label=title, color="tab:blue")
        if baseline:
            base = [baseline["per_condition"].get(n, {}).get(key, np.nan) for n in names]
            ax.bar(x - width / 2, base, width, label=baseline.get("label", "baseline"), color="tab:grey")
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylim(0, 1.02)
    axes[0].axhline(0.8, color="crimson", ls=":", lw=1, label="target 0.80 (worst shift)")
    axes[1].axhline(0.06, color="crimson", ls=":", lw=1, label="target 0.06 (mean)")
    axes[0].legend(fontsize=8, loc="lower left")
    axes[1].legend(fontsize=8, loc="upper left")
    axes[1].set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    summary = report["summary"]
    fig.suptitle(f"Stress test of {title} on {report['n']} validation images at threshold {report['threshold']:.3f}: worst-shift "
                 f"specificity {summary['worst_shift_specificity']:.3f} ({summary['worst_shift']}), "
                 f"mean ECE {summary['mean_ece_over_shifts']:.3f}", fontsize=10)
    return _save(fig, path)
