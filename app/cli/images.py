"""`predict` and `heatmap`: one or more image files, scored or explained."""

from __future__ import annotations

import argparse
import json
import sys

from app.cli import common
from app.cli.common import CLAHE_CHOICES, HEATMAP_FORMATS, UsageError, check_inputs
from app.core.errors import OutputError, PneumoScanError


def predict(args: argparse.Namespace) -> int:
    from app.core.scan.row import ScanRow

    check_inputs(args.images)
    for path in args.images:
        if path.is_dir():
            raise UsageError(f"{path} is a folder; predict takes image files. To score every image in it: "
                             f"pneumoscan-cli scan {path}")
    screener = common.open_screener(args.model, args.backend, args.site)
    if screener.site:
        print(f"Results {screener.site.describe()} ({args.site})", file=sys.stderr if args.json else sys.stdout)
    clahe = CLAHE_CHOICES[args.clahe]
    failures = 0
    for path in args.images:
        try:
            row = ScanRow.from_prediction(str(path), screener.predict_file(path, clahe), screener.card.sha256)
        except Exception as exc:  # noqa: BLE001 - one file's failure is its answer; the others go on
            row = ScanRow.from_error(str(path), exc)
        failures += row.status == "error"
        if args.json:
            print(json.dumps(row.to_json()), flush=True)
        elif row.status == "error":
            print(f"{path}: ERROR {row.error}", file=sys.stderr, flush=True)
        else:
            print(f"{path}: {row.answer}")
            for warning in row.warnings:
                print(f"  warning: {warning}")
    return 1 if failures else 0


def _check_heatmap_out(args: argparse.Namespace) -> None:
    from app.core.io.outputs import check_writable, refuse_inputs

    out = args.out
    refuse_inputs(out, [args.image])
    check_writable(out)
    if out.suffix.lower() not in HEATMAP_FORMATS:
        raise UsageError(f"--out {out}: unknown image format {repr(out.suffix) if out.suffix else '(no suffix)'}; "
                         f"use one of {', '.join(HEATMAP_FORMATS)}.")
    if out.exists() and not args.overwrite:
        raise OutputError(f"--out {out} already exists; add --overwrite to replace it.")


def heatmap(args: argparse.Namespace) -> int:
    import cv2

    from app.core.explain.colour import overlay, scale_description
    from app.core.io.images import load_image, load_model_image
    from app.core.io.outputs import atomic_write_bytes
    from app.core.scan.row import ScanRow

    check_inputs([args.image])
    _check_heatmap_out(args)
    screener = common.open_screener(args.model, args.backend, args.site)
    try:
        image = load_image(args.image)  # the full-size picture under the overlay
        model_copy = load_model_image(args.image, screener.card.input_size, image)
    except PneumoScanError as exc:
        print(f"{args.image}: ERROR {exc}", file=sys.stderr)
        return 1
    explanation = screener.explain(model_copy, CLAHE_CHOICES[args.clahe], args.explain)
    rgb = overlay(image.pixels, explanation, args.opacity)
    ok, encoded = cv2.imencode(args.out.suffix.lower(), rgb[:, :, ::-1])
    if not ok:
        raise OutputError(f"Could not encode {args.out}")
    atomic_write_bytes(args.out, encoded.tobytes())
    p = explanation.prediction
    answer = ScanRow.from_prediction(str(args.image), p, screener.card.sha256).answer
    print(f"{args.image}: {answer}; Grad-CAM for "
          f"{explanation.explained_class} written to {args.out}"
          + (" (no region supports this class: the map is empty)" if explanation.empty else "")
          + f". {scale_description(explanation.reference)}" + (f" Results {screener.site.describe()}." if screener.site else ""))
    return 0
