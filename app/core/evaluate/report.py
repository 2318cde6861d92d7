"""Scoring a labelled sample and reporting the model's performance on it (`evaluate`, `calibrate`).

Metrics come from the full-precision probability of each logit (the site calibration's, or the model
card's), not the 6-decimal one a CSV shows, where a saturated model's many 1.000000 would tie and lower
the AUC. Images the model may not answer for (outside its scope) are kept apart: `evaluate` reports
them and leaves them out of the figures unless asked, `calibrate` never fits on them.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import OutputError
from app.core.io.collect import each_decoded
from app.core.io.model_input import load_model_input
from app.core.evaluate.labelled import (
    CLASSES,
    LabelledError,
    LabelledImage,
    class_counts,
    relative_name,
)
from app.core.evaluate.metrics import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    bootstrap_intervals,
    compute_metrics,
)
from app.core.io.outputs import atomic_write_bytes, csv_escape, is_same_file
from app.core.evaluate.plots import reliability_png, roc_png
from app.core.model.scope import ANSWERED
from app.core.screening import Prepared, Screener

BATCH = 32
EVALUATION_FILES = ("metrics.json", "predictions.csv", "roc.png", "reliability.png")
Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class ScoredFile:
    path: str
    logit: float
    scope: str

    @property
    def in_domain(self) -> bool:
        return self.scope in ANSWERED


def score_files(screener: Screener, paths: list[str], progress: Progress | None = None) -> tuple[list[ScoredFile], dict[str, str]]:
    """The logit and scope of every readable image (in order), and the error of every unreadable one."""
    scored: list[ScoredFile] = []
    failed: list[tuple[str, str]] = []
    pending: list[tuple[str, Prepared]] = []

    def flush() -> None:
        predictions = screener.predict_prepared([prepared for _, prepared in pending])
        scored.extend(ScoredFile(path, p.logit, p.scope) for (path, _), p in zip(pending, predictions))
        pending.clear()

    def read(path: str) -> Prepared:
        prepared = load_model_input(path, screener.card.preprocessing)
        return Prepared(prepared.tensor, prepared.warnings)

    for path, prepared in each_decoded(paths, read, failed, progress, len(paths)):
        pending.append((path, prepared))
        if len(pending) == BATCH:
            flush()
    flush()
    return scored, dict(failed)


@dataclass(frozen=True)
class LabelledScores:
    """A labelled sample as the model scored it; `errors`: the unreadable files, left out."""

    images: list[LabelledImage]
    logits: np.ndarray
    scopes: list[str]
    errors: dict[Path, str]

    @property
    def y(self) -> np.ndarray:
        return np.array([image.label for image in self.images], int)

    @property
    def answered(self) -> np.ndarray:
        """Which images are in the model's scope (in scope or near the domain edge)."""
        return np.array([scope in ANSWERED for scope in self.scopes], bool)

    def subset(self, keep: np.ndarray) -> LabelledScores:
        return LabelledScores([i for i, k in zip(self.images, keep) if k], self.logits[keep],
                              [s for s, k in zip(self.scopes, keep) if k], self.errors)

    def class_counts(self) -> dict[str, int]:
        return class_counts(self.images)


def score_labelled(screener: Screener, images: list[LabelledImage], progress: Progress | None = None) -> LabelledScores:
    scored, errors = score_files(screener, [str(image.path) for image in images], progress)
    by_path = {image.path.as_posix(): image for image in images}
    return LabelledScores([by_path[Path(s.path).as_posix()] for s in scored], np.array([s.logit for s in scored], np.float64),
                          [s.scope for s in scored], {Path(path): message for path, message in errors.items()})


def performance(y: np.ndarray, p: np.ndarray, threshold: float, resamples: int = BOOTSTRAP_RESAMPLES) -> dict[str, Any]:
    """The metrics at the threshold with their bootstrap 95 % intervals (`ci95`, fixed seed)."""
    return compute_metrics(y, p, threshold) | {
        "ci95": bootstrap_intervals(y, p, threshold, resamples),
        "bootstrap": {"resamples": resamples, "seed": BOOTSTRAP_SEED, "level": 0.95},
    }


def check_evaluation_out(out: Path, folder: Path, overwrite: bool) -> None:
    """Refuse, before any work, an output folder inside the labelled one (the plots would join the images)
    or holding files of these names (replaced only with --overwrite, and only if they are regular files)."""
    out, folder = Path(out), Path(folder)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file; give a folder for the metrics, predictions and plots.")
    if is_same_file(out, folder) or folder.resolve() in out.resolve().parents:
        raise OutputError(f"--out {out} is inside the labelled folder {folder}; its files would mix with the images.")
    existing = [name for name in EVALUATION_FILES if os.path.lexists(out / name)]
    if existing and not overwrite:
        raise OutputError(f"--out {out} already holds {', '.join(existing)}; add --overwrite to replace them.")
    odd = [name for name in existing if not (out / name).is_file() or (out / name).is_symlink()]
    if odd:
        raise OutputError(f"--out {out}: {', '.join(odd)} is not a regular file; it is not replaced.")


def evaluate_labelled(screener: Screener, folder: Path, scores: LabelledScores, out: Path, include_outside: bool = False,
                      resamples: int = BOOTSTRAP_RESAMPLES) -> dict[str, Any]:
    """Write metrics.json, predictions.csv, roc.png and reliability.png to `out`; return the metrics."""
    p_all = screener.probabilities(scores.logits)
    threshold = screener.threshold
    kept = np.ones(len(scores.images), bool) if include_outside else scores.answered
    if not kept.any():
        raise LabelledError(f"All {len(scores.images)} readable images are outside the model's scope: nothing to measure "
                            "(add --include-outside-scope to measure them anyway)." if scores.images
                            else "None of the images could be read: nothing to measure.")
    y, p = scores.y[kept], p_all[kept]
    outside = {relative_name(image.path, folder): scope for image, scope, answered
               in zip(scores.images, scores.scopes, scores.answered) if not answered}
    metrics = performance(y, p, threshold, resamples) | {
        "model_version": screener.card.version,
        "sha256": screener.card.sha256,
        "site": None if screener.site is None else {"name": screener.site.name, "sha256": screener.site.sha256,
                                                    "description": screener.site.describe()},
        "n_out_of_domain": len(outside),
        "outside_scope": {"included": include_outside, "files": outside},
        "errors": {relative_name(path, folder): message for path, message in scores.errors.items()},
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "predictions.csv", _predictions_csv(folder, scores, p_all, threshold))
    title = f"{folder.name}: {len(y)} images" + ("" if include_outside or not outside else f", {len(outside)} outside scope left out")
    if metrics["auc"] is not None:
        atomic_write_bytes(out / "roc.png", roc_png(y, p, metrics, title))
    atomic_write_bytes(out / "reliability.png", reliability_png(y, p, metrics, title))
    atomic_write_bytes(out / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode("utf-8"))
    return metrics


def _predictions_csv(folder: Path, scores: LabelledScores, p: np.ndarray, threshold: float) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["path", "label", "logit", "probability", "prediction", "in_domain", "scope"])
    for image, logit, probability, scope, answered in zip(scores.images, scores.logits, p, scores.scopes, scores.answered):
        writer.writerow([csv_escape(relative_name(image.path, folder)), CLASSES[image.label], f"{logit:.9g}", f"{probability:.9g}",
                         CLASSES[int(probability >= threshold)], str(bool(answered)).lower(), scope])
    return text.getvalue().encode("utf-8")


def summary_lines(metrics: dict[str, Any], site: str = "") -> list[str]:
    """The figures of an evaluation as the terminal shows them, each with its 95 % interval."""
    m, ci = metrics, metrics["ci95"]
    lines = [f"{m['n']} images ({m['n_normal']} NORMAL, {m['n_pneumonia']} PNEUMONIA), model {m['model_version']}"
             + (f", {site}" if site else "") + f", threshold {m['threshold']:.6f}"]
    for key in ("accuracy", "sensitivity", "specificity", "precision", "f1", "auc", "ece", "brier"):
        interval = f"  (95 % CI {ci[key][0]:.3f}-{ci[key][1]:.3f})" if ci.get(key) else ""
        lines.append(f"{key:>12}: " + ("n/a (one class only)" if m[key] is None else f"{m[key]:.4f}{interval}"))
    return lines + [f"confusion matrix [[tn, fp], [fn, tp]]: {m['confusion_matrix']}"]
