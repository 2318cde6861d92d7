"""The two training phases, checkpointed every epoch so a killed run resumes where it stopped.

Phase 1 trains the head on a frozen backbone; phase 2 fine-tunes the backbone from `fine_tune_at`
(BatchNormalization in inference mode unless asked otherwise). Each phase keeps `<phase>_last.keras`
(model and optimizer, for resuming), `<phase>_best.keras` (lowest validation loss) and, with weight
averaging, `<phase>_swa.npz` (the running mean of the last epochs' weights); `state.json` holds the
epoch, the early-stopping and learning-rate counters and the history. A phase ends on its averaged
weights when it averages, else on its best epoch.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from model_training.architecture import freeze_backbone, unfreeze_top

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhaseSpec:
    name: str  # "frozen" or "finetune"
    epochs: int
    learning_rate: float
    schedule: str = "plateau"  # "plateau": ReduceLROnPlateau + early stopping; "cosine": warm-up then cosine decay
    optimizer: str = "adam"  # "adam" | "adamw"
    weight_decay: float = 0.0
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    swa_epochs: int = 0  # > 0: the phase ends on the average of its last N epochs' weights
    patience: int = 3

    @property
    def reduce_lr(self) -> bool:
        return self.schedule == "plateau"


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
    """After every epoch: history, last/best models, the weight average, early stop and plateau LR."""

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
        elif self.spec.reduce_lr:
            self.phase["wait"] += 1
            self.phase["lr_wait"] += 1
            if self.phase["lr_wait"] >= 2:  # ReduceLROnPlateau(factor=0.2, patience=2)
                new_lr = max(logs["learning_rate"] * 0.2, 1e-7)
                self.model.optimizer.learning_rate.assign(new_lr)
                self.phase["lr_wait"] = 0
                log.info("%s: validation loss flat for 2 epochs, learning rate -> %.2e", self.spec.name, new_lr)
        if self.spec.swa_epochs and epoch + 1 > self.spec.epochs - self.spec.swa_epochs:
            self._accumulate(folder / f"{self.spec.name}_swa.npz")
        self.phase["epoch"] = epoch + 1
        if self.spec.reduce_lr and self.phase["wait"] >= self.spec.patience:
            log.info("%s: early stop after epoch %d (no val_loss gain for %d epochs)", self.spec.name, epoch + 1, self.spec.patience)
            self.model.stop_training = True
        _save_atomic(self.model, folder / f"{self.spec.name}_last.keras")
        self.state.save()
        log.info("%s epoch %d: %s", self.spec.name, epoch + 1, {k: round(v, 4) for k, v in logs.items()})

    def _accumulate(self, path: Path) -> None:
        """Running mean of the weights over the averaged epochs, on disk so a resumed run continues it."""
        weights = self.model.get_weights()
        count = int(self.phase.get("swa_count", 0))
        if count:
            with np.load(path) as saved:
                previous = [saved[f"w{i}"] for i in range(len(weights))]
            weights = [p + (w - p) / (count + 1) for p, w in zip(previous, weights)]
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, **{f"w{i}": w for i, w in enumerate(weights)})
        os.replace(tmp, path)
        self.phase["swa_count"] = count + 1


def _save_atomic(model: keras.Model, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def _learning_rate(spec: PhaseSpec, steps_per_epoch: int) -> float | keras.optimizers.schedules.LearningRateSchedule:
    if spec.schedule != "cosine":
        return spec.learning_rate
    warmup = int(round(spec.warmup_epochs * steps_per_epoch))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=spec.learning_rate / 10 if warmup else spec.learning_rate,
        decay_steps=max(1, spec.epochs * steps_per_epoch - warmup),
        alpha=0.01,
        warmup_target=spec.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def compile_for(model: keras.Model, spec: PhaseSpec, steps_per_epoch: int) -> None:
    """Optimizer, schedule and loss of a phase (recompile after changing `trainable`)."""
    rate = _learning_rate(spec, steps_per_epoch)
    if spec.optimizer == "adamw":
        optimizer = keras.optimizers.AdamW(rate, weight_decay=spec.weight_decay)
    else:
        optimizer = keras.optimizers.Adam(rate)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.BinaryCrossentropy(label_smoothing=spec.label_smoothing),
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
    train_bn: bool = False,
) -> keras.Model:
    """Run (or resume, or skip if finished) one phase; return the model with the phase's final weights."""
    phase = state.phase(spec.name)
    folder = state.folder
    if not phase["done"]:
        last = folder / f"{spec.name}_last.keras"
        if phase["epoch"] > 0 and last.exists():
            log.info("%s: resuming after epoch %d", spec.name, phase["epoch"])
            model = keras.models.load_model(last)  # weights, trainable flags and optimizer state
        else:
            if spec.name == "frozen":
                freeze_backbone(model)
            else:
                unfreeze_top(model, fine_tune_at, train_bn)
            compile_for(model, spec, int(train_ds.cardinality()))
        if phase["wait"] < spec.patience and phase["epoch"] < spec.epochs:
            model.fit(
                train_ds,
                validation_data=val_ds,
                epochs=spec.epochs,
                initial_epoch=phase["epoch"],
                class_weight=class_weight,
                callbacks=[_Checkpointer(state, spec)],
                verbose=2,
            )
        phase["done"] = True
        state.save()
    else:
        log.info("%s: already finished, loading its final weights", spec.name)
    return _final_weights(model, spec, state)


def _final_weights(model: keras.Model, spec: PhaseSpec, state: TrainingState) -> keras.Model:
    folder = state.folder
    averaged = folder / f"{spec.name}_swa.npz"
    if spec.swa_epochs and state.phase(spec.name).get("swa_count") and averaged.exists():
        last = folder / f"{spec.name}_last.keras"
        model = keras.models.load_model(last) if last.exists() else model
        with np.load(averaged) as saved:
            model.set_weights([saved[f"w{i}"] for i in range(len(saved.files))])
        log.info("%s: weights averaged over its last %d epochs", spec.name, state.phase(spec.name)["swa_count"])
        return model
    best = folder / f"{spec.name}_best.keras"
    return keras.models.load_model(best) if best.exists() else model
