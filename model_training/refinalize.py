"""Re-finalizing a trained model with a new scope check, without training it again.

The network, its calibration, threshold, domain statistics and Grad-CAM scale are kept as they are (the
same files, the same sha256); the population check and the not-an-X-ray cut-off are fitted on the
model's own features through the app's ONNX path, and the card gets a new version that says so.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

from app.core.model.card import ModelCard, read_card
from app.core.screening import Screener
from model_training.finalize import git_commit
from model_training.foreign_images import foreign_images
from model_training.scope_fit import NOT_XRAY_METHOD, fit_scope, onnx_features, population_entry, scope_data
from model_training.config import training_folder
from model_training.splits import read_split

# Beside the model and carried over unchanged: the split, the validation report, the plots and the log.
CARRIED = ("split_train.tsv", "split_val.tsv", "metrics_val.json", "stress.json", "stress.png", "train.log",
           "calibration.png", "confusion_matrix.png", "precision_recall.png", "roc.png", "training_curves.png")


def refinalize(model: Path, data: Path, outside: Path, full_resolution: Path | None, out: Path, version: str,
               command: str) -> Path:
    """Write `out` with the model's files and a card of `version` carrying the new scope check."""
    started = time.monotonic()
    source = read_card(model)
    out.mkdir(parents=True, exist_ok=True)
    folder = model.parent
    named = [source.model_file, source.domain.get("file"), source.onnx.get("file"), source.onnx.get("head", {}).get("file")]
    for name in [n for n in named if n] + [n for n in CARRIED if (folder / n).is_file()]:
        shutil.copy2(folder / name, out / name)
    screener = Screener(model, backend="onnx" if source.onnx else "keras")  # the source's files: its scope check may be refitted
    data_sets = scope_data(training_folder(data), [Path(s.path) for s in read_split(folder / "split_train.tsv")],
                           [Path(s.path) for s in read_split(folder / "split_val.tsv")], outside, full_resolution)
    fitted = fit_scope(onnx_features(screener.backend.infer, source.preprocessing), screener.scope.gate, data_sets,
                       source.input_size, [image.pixels for image in foreign_images().values()])
    card: ModelCard = dataclasses.replace(source, version=version)
    card.created = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    card.population = population_entry(fitted, out)
    card.domain = card.domain | {"not_xray_cutoff": fitted.not_xray_cutoff,
                                 "not_xray_method": NOT_XRAY_METHOD}
    card.notes = (f"{source.version}'s network, calibration, threshold, domain statistics and Grad-CAM scale, unchanged "
                  f"(same files and sha256), re-finalized with the supervised population check: {command}")
    card.git_commit = git_commit()
    card.phase_times_s = card.phase_times_s | {"refinalize": round(time.monotonic() - started, 1)}
    card.save(out)
    return out / source.model_file
