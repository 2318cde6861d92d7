"""Print docs/training.md's ablation table from finished training runs (their card and metrics_val.json).

Usage: python scripts/ablation_table.py RUN_DIR [RUN_DIR ...]
Each row: validation accuracy, AUC and specificity at the run's own threshold, the stress test's
worst-shift specificity and mean ECE over shifts, the same two with the threshold and temperature
fitted under shift instead, and phase 2's training minutes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def row(run: Path) -> str:
    card = json.loads((run / "model_card.json").read_text(encoding="utf-8"))
    metrics = json.loads((run / "metrics_val.json").read_text(encoding="utf-8"))
    robustness = card["robustness"]
    shifted = metrics["calibration_alternatives"]["shifted"]["stress"]
    minutes = card.get("phase_times_s", {}).get("finetune", 0.0) / 60
    return (f"| {run.name} | {metrics['accuracy']:.3f} | {metrics['auc']:.4f} | {metrics['specificity']:.3f} | "
            f"{robustness['worst_shift_specificity']:.3f} ({robustness['worst_shift']}) | "
            f"{robustness['mean_ece_over_shifts']:.3f} | {shifted['worst_shift_specificity']:.3f} | "
            f"{shifted['mean_ece_over_shifts']:.3f} | {minutes:.1f} |")


def main(runs: list[str]) -> int:
    print("| run | val accuracy | val AUC | val specificity | worst-shift specificity | mean ECE over shifts "
          "| worst-shift spec. (shift-fitted threshold) | mean ECE (shift-fitted) | phase 2 min |")
    print("|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        path = Path(run)
        print(row(path) if (path / "model_card.json").is_file() else f"| {path.name} | not finished |||||||| ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
