"""The two training phases, checkpointed every epoch so a killed run resumes where it stopped.

Phase 1 trains the head on a frozen backbone; phase 2 fine-tunes the backbone from `fine_tune_at`
with BatchNormalization kept in inference mode. Each phase keeps `<phase>_last.keras` (model and
optimizer, for resuming) and `<phase>_best.keras` (lowest validation loss, restored at the end), and
`state.json` holds the epoch, the early-stopping and learning-rate counters and the history.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from model_training.architecture import freeze_backbone, unfreeze_top

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhaseSpec:
    name: str  # "frozen" or "finetune"
    epochs: int
    learning_rate: float
    reduce_lr: bool
    patience: int = 3


class TrainingState:
    """Progress of a run on disk: `state.json` in the checkpoint folder, rewritten atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "state.json"
        self.data: dict[str, Any] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def phase(self, name: str) -> dict[str, Any]:
        return self.data.setdefault(name, {"epoch": 0, "best": None, "wait": 0, "lr_wait": 0, "done": False, "history": {}})

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        os.replace(tmp, self.path)


class _Checkpointer(keras.callbacks.Callback):
    """Saves last/best models and the counters after every epoch; stops early; lowers the learning rate."""

    def __init__(self, state: TrainingState, spec: PhaseSpec) -> None:
        super().__init__()
        self.state, self.spec = state, spec
        self.phase = state.phase(spec.name)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = dict(logs or {})
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        for key, value in logs.items():
            self.phase["history"].setdefault(key, []).append(float(value))
        val_loss = float(logs["val_loss"])
        folder = self.state.folder
        if self.phase["best"] is None or val_loss < self.phase["best"]:
            self.phase["best"], self.phase["wait"], self.phase["lr_wait"] = val_loss, 0, 0
            _save_atomic(self.model, folder / f"{self.spec.name}_best.keras")
        else:
            self.phase["wait"] += 1
            self.phase["lr_wait"] += 1
            if self.spec.reduce_lr and self.phase["lr_wait"] >= 2:  # ReduceLROnPlateau(factor=0.2, patience=2)
                new_lr = max(logs["learning_rate"] * 0.2, 1e-7)
                self.model.optimizer.learning_rate.assign(new_lr)
                self.phase["lr_wait"] = 0
                log.info("%s: validation loss flat for 2 epochs, learning rate -> %.2e", self.spec.name, new_lr)
        self.phase["epoch"] = epoch + 1
        if self.phase["wait"] >= self.spec.patience:
            log.info("%s: early stop after epoch %d (no val_loss gain for %d epochs)", self.spec.name, epoch + 1, self.spec.patience)
            self.model.stop_training = True
        _save_atomic(self.model, folder / f"{self.spec.name}_last.keras")
        self.state.save()
        log.info("%s epoch %d: %s", self.spec.name, epoch + 1, {k: round(v, 4) for k, v in logs.items()})


def _save_atomic(model: keras.Model, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def _compile(model: keras.Model, learning_rate: float) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy", keras.metrics.AUC(name="auc")],
    )


def run_phase(
    model: keras.Model,
    spec: PhaseSpec,
    state: TrainingState,
    train_ds: tf.data.Dataset,
    val_ds: tf.data.Dataset,
    class_weight: dict[int, float],
    fine_tune_at: int,
) -> keras.Model:
    """Run (or resume, or skip if finished) one phase; return the model with the phase's best weights."""
    phase = state.phase(spec.name)
    folder = state.folder
    if phase["done"]:
        log.info("%s: already finished, loading its best checkpoint", spec.name)
        best = folder / f"{spec.name}_best.keras"
        return keras.models.load_model(best) if best.exists() else model
    last = folder / f"{spec.name}_last.keras"
    if phase["epoch"] > 0 and last.exists():
        log.info("%s: resuming after epoch %d", spec.name, phase["epoch"])
        model = keras.models.load_model(last)  # weights, trainable flags and optimizer state
    else:
        if spec.name == "frozen":
            freeze_backbone(model)
        else:
            unfreeze_top(model, fine_tune_at)
        _compile(model, spec.learning_rate)  # recompile after changing `trainable`
    if phase["wait"] < spec.patience and phase["epoch"] < spec.epochs:
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=spec.epochs,
            initial_epoch=phase["epoch"],
            class_weight=class_weight,
            callbacks=[_Checkpointer(state, spec)],
            verbose=2 if os.environ.get("CI") else "auto",
        )
    phase["done"] = True
    state.save()
    best = folder / f"{spec.name}_best.keras"
    return keras.models.load_model(best) if best.exists() else model
