"""Print docs/training.md's ablation table from finished training runs (their card and metrics_val.json).

Usage: python scripts/ablation_table.py RUN_DIR [RUN_DIR ...]
       python scripts/ablation_table.py --calibration RUN_DIR
Each row, from the run's saved validation logits: validation accuracy, AUC, sensitivity and
specificity with 1.0.0's calibration (temperature and threshold on clean validation), the stress
test's worst-shift specificity and mean ECE that way, the same with the chosen calibration under
shift, and phase 2's training minutes. `--calibration` compares the ways of
fitting temperature and threshold on one run's saved validation logits (`stress_logits_val.npz`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def calibration_ways(run: Path) -> dict[str, dict]:
    """Stress summaries of one run's saved validation logits under each way of fitting temperature and threshold."""
    import numpy as np

    from model_training.calibration import choose_threshold, choose_threshold_under_shift, fit_temperature, sigmoid
    from model_training.finalize import calibrations
    from model_training.stress import condition_metrics, summarise

    saved = np.load(run / "stress_logits_val.npz")  # logits before any offset was folded in
    y = saved["y"]
    conditions = {k: saved[k] for k in saved.files if k != "y"}
    clean = conditions["clean"]
    pool_y, pool = np.concatenate([y] * len(conditions)), np.concatenate(list(conditions.values()))
    t_pool = fit_temperature(pool_y, pool)
    made = calibrations(y, clean, conditions)  # the two choices `train --calibrate` offers, exactly as training fits them
    ways = {
        "temperature and threshold on clean validation (1.0.0's way)": made["clean"],
        "temperature on clean + shifted; threshold with sensitivity >= 0.95 on the whole pool":
            (t_pool, 0.0, choose_threshold(pool_y, sigmoid(pool / t_pool))),
        "temperature on clean + shifted; threshold by the rule under shift":
            (t_pool, 0.0, choose_threshold_under_shift(y, sigmoid(clean / t_pool), pool_y, sigmoid(pool / t_pool))),
        "Platt (temperature + offset) on clean + shifted; threshold by the rule under shift (chosen)": made["shifted"],
    }
    return {name: summarise({k: condition_metrics(y, v + o, t, th) for k, v in conditions.items()}) | {"threshold": th}
            for name, (t, o, th) in ways.items()}


def calibration_table(run: Path) -> None:
    print("| calibration | threshold | clean sensitivity | clean specificity | clean ECE | worst-shift specificity "
          "| mean sensitivity over shifts | mean ECE over shifts |")
    print("|---|---|---|---|---|---|---|---|")
    for name, summary in calibration_ways(run).items():
        c = summary["clean"]
        print(f"| {name} | {summary['threshold']:.3f} | {c['sensitivity']:.3f} | {c['specificity']:.3f} | {c['ece']:.3f} | "
              f"{summary['worst_shift_specificity']:.3f} | {summary['mean_sensitivity_over_shifts']:.3f} | "
              f"{summary['mean_ece_over_shifts']:.3f} |")


def row(run: Path) -> str:
    """Both ends of the calibration table for one run: 1.0.0's way and the chosen one."""
    card = json.loads((run / "model_card.json").read_text(encoding="utf-8"))
    ways = list(calibration_ways(run).values())
    old, new = ways[0], ways[-1]
    clean = old["clean"]
    minutes = card.get("phase_times_s", {}).get("finetune", 0.0) / 60
    return (f"| {run.name} | {clean['accuracy']:.3f} | {clean['auc']:.4f} | {clean['sensitivity']:.3f} | "
            f"{clean['specificity']:.3f} | {old['worst_shift_specificity']:.3f} ({old['worst_shift']}) | "
            f"{old['mean_ece_over_shifts']:.3f} | {new['worst_shift_specificity']:.3f} ({new['worst_shift']}) | "
            f"{new['mean_sensitivity_over_shifts']:.3f} | {new['mean_ece_over_shifts']:.3f} | {minutes:.1f} |")


def main(runs: list[str]) -> int:
    if runs[:1] == ["--calibration"]:
        calibration_table(Path(runs[1]))
        return 0
    print("| run | val accuracy | val AUC | val sensitivity | val specificity | worst-shift specificity "
          "| mean ECE over shifts | worst-shift specificity, calibrated under shift | mean sensitivity over shifts, "
          "calibrated under shift | mean ECE over shifts, calibrated under shift | phase 2 min |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        path = Path(run)
        print(row(path) if (path / "model_card.json").is_file() else f"| {path.name} | not finished |||||||||| ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
