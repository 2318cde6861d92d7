"""What a training run is asked to do: data, output and the recipe, in one place that `train`,
`phases` and `finalize` all read (so none of them imports another for it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.core.evaluate.labelled import CLASSES

DEFAULT_VERSION = "2.0.0"


def training_folder(data: Path) -> Path:
    """`data` itself when it holds a class folder (NORMAL/ or PNEUMONIA/), else its `train/` when there is one
    (our validation split is carved from it; an official `val/` beside it is too small to choose anything with
    and is not used), else `data`. A folder holding both class folders and a `train/` is taken as it is: the
    class folders beside it are what it labels, and a missing one is refused by name rather than passed over."""
    has_classes = any((data / name).is_dir() for name in CLASSES)
    return data / "train" if (data / "train").is_dir() and not has_classes else data


@dataclass(frozen=True)
class TrainConfig:
    data: Path
    out: Path
    base_weights: str | None  # "imagenet", a local file, or None for random weights
    epochs_frozen: int = 3
    epochs_finetune: int = 5
    fine_tune_at: int = 50  # first backbone layer that learns in phase 2
    seed: int = 42
    resume: bool = False
    batch_size: int = 32
    val_fraction: float = 0.2
    version: str = DEFAULT_VERSION
    command: str = ""  # as the user typed it; recorded in the log and the model card
    # The recipe (each a `train` option; the stress test chose the defaults, see docs/training.md):
    augment: str = "xray"  # none | basic | xray
    input_clahe: bool = False  # CLAHE as part of the model's input (recorded in the card's preprocessing)
    frozen_lr: float = 1e-3
    finetune_lr: float = 1e-4
    optimizer: str = "adamw"  # adam | adamw
    weight_decay: float = 1e-4
    schedule: str = "cosine"  # cosine (with warm-up) | plateau (1.0.0's ReduceLROnPlateau + early stop)
    warmup_epochs: float = 0.5
    train_bn: bool = False  # phase 2 updates BatchNormalization statistics too
    label_smoothing: float = 0.05
    swa_epochs: int = 3  # average the weights of the last N fine-tuning epochs (0 = keep the best epoch)
    calibrate: str = "shifted"  # clean | shifted: temperature and threshold fitted on validation under the shift suite too
    split_seed: int = 42  # the validation split's own seed, so a second training seed keeps the same split
    init_from: Path | None = None  # start phase 2 from another run's finished phase 1 (and its split): ablations
    # The scope check's population fit (`model_training.scope_fit`); without `outside` the model has none.
    outside: Path | None = None  # chest X-rays of another population (e.g. adults)
    full_resolution: Path | None = None  # full-resolution copies of training-split films

    def recipe(self) -> dict[str, Any]:
        """The options that decide the weights, for the model card."""
        skip = {"data", "out", "resume", "command", "version", "outside", "full_resolution"}
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items() if k not in skip}
