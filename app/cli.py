"""`pneumoscan-cli`: predict, heatmap and scan from a terminal, on the same engine as the GUI."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app import __version__
from app.core.errors import PneumoScanError

CLAHE_CHOICES = {"model": None, "on": True, "off": False}


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=None,
                        help="a .keras or .onnx model with model_card.json beside it (default: the bundled model, or $PNEUMOSCAN_MODEL)")
    parser.add_argument("--backend", choices=("onnx", "keras"), default=None,
                        help="run the model on ONNX Runtime or on TensorFlow/Keras (default: onnx when the model "
                        "has an ONNX export, else keras; or $PNEUMOSCAN_BACKEND)")
    parser.add_argument("--clahe", choices=tuple(CLAHE_CHOICES), default="model",
                        help="CLAHE before the model: as the model card says (default), or forced on/off")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pneumoscan-cli", description="Screen chest X-rays for pneumonia "
                                     "(research tool, not a medical device).")
    parser.add_argument("--version", action="version", version=f"PneumoScan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    predict = sub.add_parser("predict", help="probability of pneumonia for one or more images")
    predict.add_argument("images", nargs="+", type=Path)
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    _add_common(predict)
    heatmap = sub.add_parser("heatmap", help="write a Grad-CAM overlay PNG for one image")
    heatmap.add_argument("image", type=Path)
    heatmap.add_argument("--out", type=Path, required=True, help="PNG to write")
    heatmap.add_argument("--opacity", type=float, default=0.4)
    heatmap.add_argument("--explain", choices=("PNEUMONIA", "NORMAL"), default=None,
                         help="class to explain (default: the predicted class)")
    _add_common(heatmap)
    scan = sub.add_parser("scan", help="scan a folder into a CSV (one row per image)")
    scan.add_argument("folder", type=Path)
    scan.add_argument("--out", type=Path, default=None, help="CSV to write (default: FOLDER_pneumoscan.csv beside the folder)")
    scan.add_argument("--recursive", action="store_true", help="include sub-folders")
    scan.add_argument("--resume", action="store_true", help="keep the CSV's finished rows, skip those files and try the ones with an error row again")
    scan.add_argument("--batch-size", type=int, default=16)
    _add_common(scan)
    return parser


def default_scan_csv(folder: Path) -> Path:
    """`FOLDER_pneumoscan.csv` beside the folder, so the results never land among the images."""
    folder = folder.resolve()
    return folder.parent / f"{folder.name}_pneumoscan.csv"


def _open_screener(model: Path | None, backend: str | None):  # noqa: ANN202 - imported lazily to keep --help instant
    from app.core.screening import Screener

    return Screener(model, backend)


def _predict(args: argparse.Namespace) -> int:
    from app.core.image_io import load_image

    screener = _open_screener(args.model, args.backend)
    clahe = CLAHE_CHOICES[args.clahe]
    failures = 0
    for path in args.images:
        try:
            p = screener.predict(load_image(path), clahe)
        except PneumoScanError as exc:
            failures += 1
            record = {"path": str(path), "status": "error", "error": str(exc)}
            print(json.dumps(record) if args.json else f"{path}: ERROR {exc}")
            continue
        if args.json:
            print(json.dumps({"path": str(path), "status": p.status, "probability": p.probability,
                              "prediction": p.label, "threshold": p.threshold, "in_domain": p.in_domain,
                              "domain_score": p.domain_score, "warnings": list(p.warnings),
                              "model_version": p.model_version}))
        else:
            print(f"{path}: {p.display_label}  probability of pneumonia {p.probability:.3f} "
                  f"(threshold {p.threshold:.3f}, model {p.model_version})")
            for warning in p.warnings:
                print(f"  warning: {warning}")
    return 1 if failures else 0


def _heatmap(args: argparse.Namespace) -> int:
    import cv2

    from app.core.heatmap_colour import overlay, scale_description
    from app.core.image_io import load_image

    screener = _open_screener(args.model, args.backend)
    image = load_image(args.image)
    explanation = screener.explain(image, CLAHE_CHOICES[args.clahe], args.explain)
    rgb = overlay(image.pixels, explanation, args.opacity)
    ok, encoded = cv2.imencode(".png", rgb[:, :, ::-1])
    if not ok:
        raise PneumoScanError(f"Could not encode {args.out}")
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(encoded.tobytes())
    except OSError as exc:
        raise PneumoScanError(f"Cannot write {args.out}: {exc.strerror or exc}") from exc
    p = explanation.prediction
    print(f"{args.image}: {p.display_label}  probability {p.probability:.3f}; Grad-CAM for "
          f"{explanation.explained_class} written to {args.out}"
          + (" (no region supports this class: the map is empty)" if explanation.empty else "")
          + f". {scale_description(explanation.reference)}")
    return 0


def _scan(args: argparse.Namespace) -> int:
    from app.core.scan import scan_folder

    out = args.out or default_scan_csv(args.folder)
    screener = _open_screener(args.model, args.backend)
    counts = {"ok": 0, "warning": 0, "error": 0}
    flagged = done = 0
    try:
        for update in scan_folder(screener, args.folder, out, args.recursive, args.resume,
                                  CLAHE_CHOICES[args.clahe], args.batch_size):
            for row in update.rows:
                counts[row.status] += 1
                flagged += row.prediction == "PNEUMONIA"
            done = update.done
            print(f"\r{update.done}/{update.total} images  {update.images_per_second:.1f} img/s"
                  + (f"  ({update.skipped} already in the CSV)" if update.skipped else ""), end="", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print(f"\nStopped after {done} images; {out} holds every finished row. "
              "Run again with --resume to continue.", file=sys.stderr)
        return 130
    print(file=sys.stderr)
    print(f"{done} scanned: {flagged} flagged PNEUMONIA, {counts['warning']} with warnings, "
          f"{counts['error']} errors -> {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"predict": _predict, "heatmap": _heatmap, "scan": _scan}[args.command](args)
    except PneumoScanError as exc:
        print(f"pneumoscan-cli: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
