"""Command line of the training module: `train` (which ends with `export`), `evaluate`, `stress` and `export`.

Exit codes: 0 done, 2 usage or environment error (one plain line on stderr, nothing left behind).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from dataclasses import fields
from pathlib import Path

from app.core.errors import ModelError
from model_training.config import DEFAULT_VERSION, TrainConfig

_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}


class UsageError(Exception):
    """A mistake the user can fix from the message alone."""


def _base_weights(value: str) -> str | None:
    if value.lower() == "none":
        return None
    if value != "imagenet" and not Path(value).is_file():
        raise argparse.ArgumentTypeError(f"{value} is not a file (use a local .h5, 'imagenet' or 'none')")
    return value


def _version(value: str) -> str:
    if not _VERSION.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a version like 2.0.0")
    return value


def _positive(kind: type) -> object:
    def parse(value: str) -> object:
        number = kind(value)
        if number <= 0:
            raise argparse.ArgumentTypeError(f"{value} must be positive")
        return number
    return parse


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return number


class _Parser(argparse.ArgumentParser):
    """A usage mistake is one line on stderr (exit 2), like every other refusal of this command line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default after its meaning, except where there is none to show (required, unset, a switch)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.required or action.default in (None, False, argparse.SUPPRESS) or "%(default)" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def _add_train(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train the two-phase MobileNetV2 model", formatter_class=_Help,
                           description="Train the two-phase MobileNetV2 model (phase 1: the head on a frozen "
                           "backbone; phase 2: fine-tuning), then stress-test, calibrate and export it. The "
                           "defaults are the recipe of the bundled model (docs/training.md).")
    train.add_argument("--data", type=Path, required=True, help="folder with NORMAL/ and PNEUMONIA/ (or train/ holding them)")
    train.add_argument("--out", type=Path, required=True, help="output folder (model, card, plots, checkpoints, log)")
    train.add_argument("--base-weights", type=_base_weights, default="imagenet",
                       help="ImageNet weights: 'imagenet' (download), a local .h5 file, or 'none' (random)")
    train.add_argument("--model-version", type=_version, default=None, dest="version",
                       help=f"version written to the model card (default: {DEFAULT_VERSION}, or the resumed run's); "
                            "never the version of a model already in --out")
    train.add_argument("--epochs-frozen", type=_non_negative_int, default=DEFAULTS["epochs_frozen"],
                       help="phase 1 epochs: only the new head learns, the backbone is frozen")
    train.add_argument("--epochs-finetune", type=_non_negative_int, default=DEFAULTS["epochs_finetune"],
                       help="phase 2 epochs: the head and the backbone from --fine-tune-at on learn")
    train.add_argument("--fine-tune-at", type=_non_negative_int, default=DEFAULTS["fine_tune_at"],
                       help="first backbone layer to fine-tune (0 = the whole backbone)")
    train.add_argument("--augment", choices=("none", "basic", "xray"), default=DEFAULTS["augment"],
                       help="training augmentation: 1.0.0's small jitter (basic) or acquisition-like shifts (xray)")
    train.add_argument("--input-clahe", action="store_true", help="CLAHE as part of the model's input (training "
                       "and prediction; default: off)")
    train.add_argument("--frozen-lr", type=_positive(float), default=DEFAULTS["frozen_lr"], help="learning rate of phase 1")
    train.add_argument("--finetune-lr", type=_positive(float), default=DEFAULTS["finetune_lr"], help="peak learning rate of phase 2")
    train.add_argument("--optimizer", choices=("adam", "adamw"), default=DEFAULTS["optimizer"],
                       help="Adam, or AdamW with decoupled weight decay")
    train.add_argument("--weight-decay", type=float, default=DEFAULTS["weight_decay"], help="AdamW's decoupled weight decay")
    train.add_argument("--schedule", choices=("cosine", "plateau"), default=DEFAULTS["schedule"],
                       help="phase 2: cosine decay after a warm-up, or 1.0.0's reduce-on-plateau with early stopping")
    train.add_argument("--warmup-epochs", type=float, default=DEFAULTS["warmup_epochs"],
                       help="epochs of linear warm-up before the cosine decay")
    train.add_argument("--train-bn", action="store_true", help="phase 2 also updates BatchNormalization statistics "
                       "(default: off)")
    train.add_argument("--label-smoothing", type=float, default=DEFAULTS["label_smoothing"],
                       help="targets moved this far from 0 and 1 (0: none)")
    train.add_argument("--swa-epochs", type=_non_negative_int, default=DEFAULTS["swa_epochs"],
                       help="average the weights of the last N fine-tuning epochs (0: keep the best epoch)")
    train.add_argument("--calibrate", choices=("shifted", "clean"), default=DEFAULTS["calibrate"],
                       help="fit temperature and threshold on validation clean+shifted, or clean only")
    train.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="seed of weights, augmentation and shuffling")
    train.add_argument("--split-seed", type=int, default=DEFAULTS["split_seed"], help="seed of the validation split")
    train.add_argument("--batch-size", type=_positive(int), default=DEFAULTS["batch_size"], help="images per training step")
    train.add_argument("--val-fraction", type=float, default=DEFAULTS["val_fraction"],
                       help="share of the patients held out for validation")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    train.add_argument("--distribute", choices=("none", "mirrored"), default="none",
                       help="mirrored: both phases on every visible GPU (tf.distribute.MirroredStrategy), "
                            "--batch-size images per GPU, learning rates as given")
    train.add_argument("--outside", type=Path, default=None,
                       help="chest X-rays of another population (e.g. adults) for the scope check's population fit; "
                            "without it the model has the domain gate only")
    train.add_argument("--full-resolution", type=Path, default=None,
                       help="full-resolution copies of training-split films for the population fit (optional)")
    train.add_argument("--init-from", type=Path, help="start phase 2 from this run's finished phase 1 and split "
                                                      "(recipes compared from one common checkpoint)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m model_training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    evaluate = sub.add_parser("evaluate", help="metrics and plots of a model on a labelled folder")
    evaluate.add_argument("--model", type=Path, required=True, help=".keras file with model_card.json beside it")
    evaluate.add_argument("--data", type=Path, required=True, help="folder with NORMAL/ and PNEUMONIA/")
    evaluate.add_argument("--out", type=Path, required=True, help="where metrics.json and the plots go")
    stress = sub.add_parser("stress", help="score a model clean and under a fixed suite of acquisition shifts")
    stress.add_argument("--model", type=Path, required=True, help="model file with model_card.json beside it")
    stress.add_argument("--data", type=Path, required=True, help="folder with NORMAL/ and PNEUMONIA/ (or train/ holding them)")
    stress.add_argument("--split", type=Path, help="score only the images this split file lists (e.g. resources/split_val.tsv)")
    stress.add_argument("--out", type=Path, required=True, help="where stress.json and stress.png go")
    stress.add_argument("--baseline", type=Path, help="another model's stress.json, drawn beside this one in the figure")
    export = sub.add_parser("export", help="write the ONNX file the app runs (beside the .keras, recorded in its card)")
    export.add_argument("--model", type=Path, required=True, help=".keras file with model_card.json beside it")
    refinalize = sub.add_parser("refinalize", help="keep a trained model's network and calibration, fit a new scope "
                                "check (population check and not-an-X-ray cut-off) and write it under a new version")
    refinalize.add_argument("--model", type=Path, required=True, help=".keras file with model_card.json and its split files beside it")
    refinalize.add_argument("--data", type=Path, required=True, help="the training data (NORMAL/ and PNEUMONIA/, or train/ holding them)")
    refinalize.add_argument("--outside", type=Path, required=True,
                            help="chest X-rays of another population (e.g. adults; labels.tsv with a patient column groups them)")
    refinalize.add_argument("--full-resolution", type=Path, default=None,
                            help="full-resolution copies of training-split films (their validation-split ones are held out)")
    refinalize.add_argument("--out", type=Path, required=True, help="a new, empty folder")
    refinalize.add_argument("--model-version", type=_version, required=True, dest="version")
    return parser


def _check_train(config: TrainConfig) -> None:
    """Everything that can be refused before any work (nothing is written if this raises)."""
    from model_training.config import training_folder
    from model_training.splits import CLASSES

    if not config.data.is_dir():
        raise UsageError(f"--data {config.data} is not a folder")
    folder = training_folder(config.data)
    for name in CLASSES:
        if not (folder / name).is_dir():
            raise UsageError(f"{folder / name} is missing: --data needs NORMAL/ and PNEUMONIA/ folders")
        if not any((folder / name).iterdir()):
            raise UsageError(f"{folder / name} is empty")
    if (config.out / "checkpoints").exists() and not config.resume:
        raise UsageError(f"{config.out} already holds a run: pass --resume to continue it or choose another --out")
    for name, folder in (("--outside", config.outside), ("--full-resolution", config.full_resolution)):
        if folder is not None and not folder.is_dir():
            raise UsageError(f"{name} {folder} is not a folder")
    if config.init_from and not (config.init_from / "checkpoints" / "state.json").is_file():
        raise UsageError(f"--init-from {config.init_from} holds no training run")
    if config.out.exists() and not config.out.is_dir():
        raise UsageError(f"--out {config.out} is a file, not a folder")
    card = config.out / "model_card.json"
    if card.exists() and not config.resume:
        try:
            existing = json.loads(card.read_text(encoding="utf-8-sig")).get("version")
        except (OSError, ValueError, AttributeError):
            existing = None
        if existing == config.version:
            raise UsageError(f"{config.out} already holds model version {existing}: pass another --model-version")


def _resumed_version(args: argparse.Namespace) -> str | None:
    """The version a resumed run was started with (kept in its state file)."""
    state = args.out / "checkpoints" / "state.json"
    if not (args.resume and state.is_file()):
        return None
    try:
        return json.loads(state.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError, AttributeError):
        return None


def _train(args: argparse.Namespace, argv: list[str]) -> int:
    options = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    options["version"] = args.version or _resumed_version(args) or DEFAULT_VERSION
    options["command"] = "python -m model_training " + shlex.join(a for a in argv if a != "--resume")
    config = TrainConfig(**options)
    _check_train(config)
    from model_training.train import train  # TensorFlow loads here, after every refusal

    print(f"model written to {train(config, args.distribute)}")
    return 0


def _stress(args: argparse.Namespace) -> int:
    from app.core.progress import note
    from app.core.screening import Prepared, Screener
    from model_training.splits import CLASSES
    from model_training.stress import run_stress, select_samples, write_report

    if not args.data.is_dir():
        raise UsageError(f"--data {args.data} is not a folder")
    try:
        samples = select_samples(args.data, args.split)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    if len({s.label for s in samples}) < 2:
        raise UsageError(f"{args.data} needs images of both classes ({' and '.join(CLASSES)})")
    baseline = json.loads(args.baseline.read_text(encoding="utf-8")) if args.baseline else None
    screener = Screener(args.model)
    card = screener.card

    def infer(batch):
        return [p.logit for p in screener.predict_prepared([Prepared(t) for t in batch])]

    report = run_stress(infer, samples, card.preprocessing, card.temperature, card.threshold,
                        progress=note)
    report["model_version"], report["sha256"] = card.version, card.sha256
    if baseline is not None:
        baseline.setdefault("label", baseline.get("model_version", "baseline"))
    path = write_report(report, args.out, card.version, baseline)
    summary = report["summary"]
    print(f"worst-shift specificity {summary['worst_shift_specificity']:.3f} ({summary['worst_shift']}), "
          f"mean ECE over shifts {summary['mean_ece_over_shifts']:.4f}, clean specificity "
          f"{summary['clean']['specificity']:.3f}; written to {path}")
    return 0


def _refinalize(args: argparse.Namespace, argv: list[str]) -> int:
    from model_training.refinalize import refinalize

    for folder in (args.data, args.outside) + ((args.full_resolution,) if args.full_resolution else ()):
        if not folder.is_dir():
            raise UsageError(f"{folder} is not a folder")
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        raise UsageError(f"--out {args.out} is not a new, empty folder")
    path = refinalize(args.model, args.data, args.outside, args.full_resolution, args.out, args.version,
                      "python -m model_training " + shlex.join(argv))
    print(f"model {args.version} written to {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args, argv)
        if args.command == "stress":
            return _stress(args)
        if args.command == "refinalize":
            return _refinalize(args, argv)
        if args.command == "export":
            from model_training.export import export_command

            return export_command(args.model)
        from model_training.evaluate import evaluate_command

        return evaluate_command(args.model, args.data, args.out)
    except (UsageError, ModelError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
