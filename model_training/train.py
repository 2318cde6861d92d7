"""`train`: split the data, run both phases, hand the final model to `finalize`, then export it to ONNX."""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import keras
import numpy as np

from app.core.io.collect import Decoded
from app.core.io.preprocessing import PreprocessConfig
from model_training.architecture import build_model
from model_training.config import TrainConfig, training_folder
from model_training.distribute import distribution
from model_training.export import export_onnx
from model_training.finalize import finalize
from model_training.phases import PhaseSpec, TrainingState, run_phase
from model_training.pipeline import make_dataset
from model_training.splits import (
    Sample,
    class_weights,
    decode_samples,
    list_samples,
    read_split,
    split_train_val,
    subset,
    write_split,
)

log = logging.getLogger(__name__)


Split = Decoded[Sample, np.ndarray]  # a split's samples with the engine's decode of each, made once per run


def resolve_split(config: TrainConfig, input_size: tuple[int, int]) -> tuple[Split, Split]:
    """The saved split when resuming; otherwise a new patient-disjoint split written to `out`. Each image is
    decoded once here, and training, finalize and the scope fit all use these arrays."""
    train_file, val_file = config.out / "split_train.tsv", config.out / "split_val.tsv"
    if (config.resume or config.init_from) and train_file.exists() and val_file.exists():
        return _readable_split(read_split(train_file), input_size), _readable_split(read_split(val_file), input_size)
    listed = decode_samples(list_samples(training_folder(config.data)), input_size, bar="decode")
    for sample, message in listed.errors:
        log.warning("skipped an unreadable training image: %s (%s)", sample.path, message)
    train, val = split_train_val(listed.kept, config.val_fraction, config.split_seed)
    write_split(train_file, train)
    write_split(val_file, val)
    return subset(listed, train), subset(listed, val)


def _readable_split(samples: list[Sample], input_size: tuple[int, int]) -> Split:
    """A saved split decoded; a file of it that can no longer be read stops the run (the split would change)."""
    decoded = decode_samples(samples, input_size, bar="decode")
    if decoded.errors:
        raise SystemExit(f"{len(decoded.errors)} images of the saved split can no longer be read, e.g. "
                         f"{decoded.errors[0][0].path} ({decoded.errors[0][1]})")
    return decoded


def adopt_phase_one(source: Path, out: Path) -> None:
    """Copy another run's split and finished phase 1 into `out`, so recipes that differ only in phase 2
    start from the same weights (the ablations' common checkpoint)."""
    state = json.loads((source / "checkpoints" / "state.json").read_text(encoding="utf-8"))
    if not state.get("frozen", {}).get("done"):
        raise SystemExit(f"{source} has no finished phase 1 to start from")
    for name in ("split_train.tsv", "split_val.tsv"):
        shutil.copy2(source / name, out / name)
    for name in ("frozen_best.keras", "frozen_last.keras"):
        if (source / "checkpoints" / name).exists():
            shutil.copy2(source / "checkpoints" / name, out / "checkpoints" / name)
    adopted = {"frozen": state["frozen"], "phase_times_s": {"frozen": state.get("phase_times_s", {}).get("frozen", 0.0)}}
    (out / "checkpoints" / "state.json").write_text(json.dumps(adopted, indent=1), encoding="utf-8")


def setup_logging(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [logging.FileHandler(out / "train.log", encoding="utf-8"), logging.StreamHandler()]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers, force=True)


def train(config: TrainConfig, distribute: str = "none") -> Path:
    """Train (or resume) and return the path of the finished `.keras` model; `distribute`: see `model_training.distribute`."""
    setup_logging(config.out)
    checkpoints = config.out / "checkpoints"
    if checkpoints.exists() and not config.resume:
        raise SystemExit(f"{config.out} already holds a run: pass --resume to continue it or choose another --out.")
    log.info("command: %s", config.command)
    keras.utils.set_random_seed(config.seed)
    checkpoints.mkdir(parents=True, exist_ok=True)
    if config.init_from and not config.resume:
        adopt_phase_one(config.init_from, config.out)
    state = TrainingState(checkpoints)
    state.data.setdefault("version", config.version)
    started = time.monotonic()
    preprocessing = PreprocessConfig(clahe=config.input_clahe)
    train_split, val_split = resolve_split(config, preprocessing.input_size)
    train_samples, val_samples = train_split.kept, val_split.kept
    log.info("split: %d training / %d validation images (%d / %d patients)", len(train_samples), len(val_samples),
             len({s.patient for s in train_samples}), len({s.patient for s in val_samples}))
    devices = distribution(distribute, config.batch_size, {"frozen": config.frozen_lr, "finetune": config.finetune_lr})
    batch = devices.global_batch(config.batch_size)
    train_ds = make_dataset(train_split, preprocessing, batch, training=True, seed=config.seed, augment=config.augment)
    val_ds = make_dataset(val_split, preprocessing, batch)
    weights = class_weights(train_samples)
    log.info("class weights: %s", weights)
    log.info("recipe: %s", config.recipe())
    with devices.scope():  # building, compiling and loading checkpoints mirror every variable
        model = build_model(config.base_weights, preprocessing.input_size, config.seed)
        for spec in phase_specs(config):
            phase_started = time.monotonic()
            model = run_phase(model, spec, state, train_ds, val_ds, weights, config.fine_tune_at, config.train_bn)
            times = state.data.setdefault("phase_times_s", {})
            times[spec.name] = round(times.get(spec.name, 0.0) + time.monotonic() - phase_started, 1)
            state.save()
    state.data["elapsed_s"] = state.data.get("elapsed_s", 0.0) + time.monotonic() - started
    state.save()
    model_path = finalize(model, config, state, train_split, val_split, preprocessing)
    log.info("ONNX export for the app: %s", export_onnx(model_path))
    return model_path


def phase_specs(config: TrainConfig) -> list[PhaseSpec]:
    """Phase 1 trains the head at a fixed rate; phase 2 follows the recipe's optimizer and schedule."""
    frozen = PhaseSpec("frozen", config.epochs_frozen, config.frozen_lr, schedule="plateau",
                       label_smoothing=config.label_smoothing)
    finetune = PhaseSpec(
        "finetune", config.epochs_finetune, config.finetune_lr, schedule=config.schedule, optimizer=config.optimizer,
        weight_decay=config.weight_decay if config.optimizer == "adamw" else 0.0, warmup_epochs=config.warmup_epochs,
        label_smoothing=config.label_smoothing, swa_epochs=min(config.swa_epochs, config.epochs_finetune),
    )
    return [frozen, finetune]
