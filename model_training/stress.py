"""`stress`: a model scored on clean images and under every acquisition shift of `model_training.shifts`.

Validation accuracy hides what goes wrong on the next hospital's X-rays; the same validation images
passed through mild export changes (gamma, resolution, JPEG, windowing...) show it. Per condition:
accuracy, sensitivity, specificity, AUC and ECE at the card's threshold and temperature, and the mean
probability of the NORMAL images, all from unrounded logits. The robustness figures are the
worst-shift specificity and the mean ECE over shifts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.core.evaluate.metrics import roc_auc
from app.core.io.outputs import atomic_write_bytes
from app.core.io.preprocessing import PreprocessConfig, preprocess
from app.core.progress import tracked
from model_training.calibration import sigmoid
from model_training.config import training_folder
from model_training.metrics import compute_metrics
from model_training.shifts import Condition, apply, stress_conditions
from model_training.splits import CLASSES, Sample, decode_samples, list_samples, read_split

Infer = Callable[[np.ndarray], np.ndarray]  # (n, H, W, 3) model inputs -> (n,) logits
STRESS_SEED = 0


def condition_logits(infer: Infer, images: Sequence[np.ndarray], keys: Sequence[str], condition: Condition,
                     config: PreprocessConfig, seed: int = STRESS_SEED, batch_size: int = 64) -> np.ndarray:
    """Logits of every image under `condition` (deterministic per image key, condition and seed)."""
    logits = []
    for start in range(0, len(images), batch_size):
        batch = [preprocess(apply(gray, condition, key, seed), config)
                 for gray, key in zip(images[start:start + batch_size], keys[start:start + batch_size])]
        logits.append(np.asarray(infer(np.stack(batch)), np.float64).reshape(-1))
    return np.concatenate(logits) if logits else np.zeros(0)


def condition_metrics(y: np.ndarray, logits: np.ndarray, temperature: float, threshold: float) -> dict[str, float]:
    """The evaluation's metrics at the threshold; the AUC from the logits, which a saturated sigmoid would tie."""
    p = sigmoid(logits / temperature)
    metrics = compute_metrics(y, p, threshold)
    return {
        "accuracy": metrics["accuracy"],
        "sensitivity": metrics["sensitivity"],
        "specificity": metrics["specificity"],
        "auc": roc_auc(y, logits),
        "ece": metrics["ece"],
        "mean_p_normal": float(p[y == 0].mean()),
    }


def summarise(per_condition: dict[str, dict[str, float]]) -> dict[str, Any]:
    """The card's robustness figures: clean metrics, worst-shift specificity and mean ECE over shifts."""
    shifted = {k: v for k, v in per_condition.items() if k != "clean"}
    worst = min(shifted, key=lambda k: shifted[k]["specificity"])
    return {
        "worst_shift_specificity": shifted[worst]["specificity"],
        "worst_shift": worst,
        "mean_ece_over_shifts": float(np.mean([v["ece"] for v in shifted.values()])),
        "mean_specificity_over_shifts": float(np.mean([v["specificity"] for v in shifted.values()])),
        "mean_sensitivity_over_shifts": float(np.mean([v["sensitivity"] for v in shifted.values()])),
        "clean": per_condition["clean"],
        "conditions": len(shifted),
    }


def run_stress(infer: Infer, samples: Sequence[Sample], config: PreprocessConfig, temperature: float,
               threshold: float, seed: int = STRESS_SEED, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The full report: per-condition metrics and the summary (the content of `stress.json`)."""
    decoded = decode_samples(samples, config.input_size, bar="decode")
    images, kept, errors = decoded.images, decoded.kept, {s.path: message for s, message in decoded.errors}
    y = np.array([s.label for s in kept])
    if len(set(y.tolist())) < 2:
        raise ValueError("the stress test needs images of both classes (NORMAL and PNEUMONIA)")
    keys = [f"{CLASSES[s.label]}/{Path(s.path).name}" for s in kept]
    per_condition = {}
    conditions = stress_conditions()
    for condition in tracked(conditions, len(conditions), "conditions", "stress test"):
        logits = condition_logits(infer, images, keys, condition, config, seed)
        per_condition[condition.name] = condition_metrics(y, logits, temperature, threshold)
        if progress:
            progress(f"{condition.name}: specificity {per_condition[condition.name]['specificity']:.3f}, "
                     f"ECE {per_condition[condition.name]['ece']:.3f}")
    return {"seed": seed, "threshold": threshold, "temperature": temperature, "n": len(kept),
            "n_normal": int((y == 0).sum()), "n_pneumonia": int((y == 1).sum()), "errors": errors,
            "summary": summarise(per_condition), "per_condition": per_condition}


def select_samples(data: Path, split: Path | None) -> list[Sample]:
    """The labelled images under `data` (NORMAL/, PNEUMONIA/), restricted to those a split file lists."""
    folder = training_folder(data)
    samples = list_samples(folder)
    if split is None:
        return samples
    wanted = {(CLASSES[s.label], Path(s.path).name) for s in read_split(split)}
    chosen = [s for s in samples if (CLASSES[s.label], Path(s.path).name) in wanted]
    if len(chosen) != len(wanted):
        raise FileNotFoundError(f"{len(wanted) - len(chosen)} images of {split} are not under {folder}")
    return chosen


def write_report(report: dict[str, Any], out: Path, title: str, baseline: dict[str, Any] | None = None) -> Path:
    """`stress.json` (through a temporary file renamed into place) and `stress.png` beside it."""
    from model_training.plots import stress_plot

    out.mkdir(parents=True, exist_ok=True)
    path = out / "stress.json"
    atomic_write_bytes(path, (json.dumps(report, indent=1) + "\n").encode("utf-8"))
    stress_plot(report, out / "stress.png", title, baseline)
    return path
