"""Command line of the training module: `train` and `evaluate`."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def _base_weights(value: str) -> str | None:
    if value.lower() == "none":
        return None
    if value != "imagenet" and not Path(value).is_file():
        raise argparse.ArgumentTypeError(f"{value} is not a file (use a local .h5, 'imagenet' or 'none')")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model_training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train the two-phase MobileNetV2 model")
    train.add_argument("--data", type=Path, required=True, help="folder with NORMAL/ and PNEUMONIA/ (or train/ holding them)")
    train.add_argument("--out", type=Path, required=True, help="output folder (model, card, plots, checkpoints, log)")
    train.add_argument("--base-weights", type=_base_weights, default="imagenet",
                       help="ImageNet weights: 'imagenet' (download), a local .h5 file, or 'none' (random)")
    train.add_argument("--epochs-frozen", type=int, default=10)
    train.add_argument("--epochs-finetune", type=int, default=10)
    train.add_argument("--fine-tune-at", type=int, default=100, help="first backbone layer to fine-tune")
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--val-fraction", type=float, default=0.2)
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    evaluate = sub.add_parser("evaluate", help="metrics and plots of a model on a labelled folder")
    evaluate.add_argument("--model", type=Path, required=True, help=".keras file with model_card.json beside it")
    evaluate.add_argument("--data", type=Path, required=True, help="folder with NORMAL/ and PNEUMONIA/")
    evaluate.add_argument("--out", type=Path, required=True, help="where metrics.json and the plots go")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if args.command == "train":
        from model_training.train import TrainConfig, train

        config = TrainConfig(
            data=args.data, out=args.out, base_weights=args.base_weights, epochs_frozen=args.epochs_frozen,
            epochs_finetune=args.epochs_finetune, fine_tune_at=args.fine_tune_at, seed=args.seed,
            resume=args.resume, batch_size=args.batch_size, val_fraction=args.val_fraction,
            command="python -m model_training " + shlex.join(a for a in argv if a != "--resume"),  # what reproduces it
        )
        print(f"model written to {train(config)}")
        return 0
    from model_training.evaluate import evaluate_command

    return evaluate_command(args.model, args.data, args.out)
