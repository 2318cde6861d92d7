"""`evaluate` and `calibrate`: the model on a site's labelled X-rays, measured or refitted."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from app.cli import common
from app.cli.common import UsageError


def scored_labelled(args: argparse.Namespace, check_out: Callable[[list], None], site: Path | None = None):  # noqa: ANN202
    """The labelled images read and the output checked (before the model loads), then scored; the
    images the model may not answer for and the unreadable ones named on stderr."""
    from app.core.evaluate.report import score_labelled
    from app.core.evaluate.labelled import read_labelled, relative_name
    from app.core.progress import counting

    images = read_labelled(args.folder, args.labels)
    if not images:
        raise UsageError(f"No images in {args.folder}/NORMAL or {args.folder}/PNEUMONIA.")
    check_out(images)
    screener = common.open_screener(args.model, args.backend, site)
    with counting(len(images), "img", args.command) as progress:
        scores = score_labelled(screener, images, progress)
    for path, message in scores.errors.items():
        print(f"note: {relative_name(path, args.folder)} could not be read, left out: {message}", file=sys.stderr)
    for image, scope, answered in zip(scores.images, scores.scopes, scores.answered):
        if not answered:
            print(f"note: {relative_name(image.path, args.folder)}: {scope}", file=sys.stderr)
    return screener, scores


def evaluate(args: argparse.Namespace) -> int:
    from app.core.evaluate.report import (
        check_evaluation_out,
        evaluate_labelled,
        summary_lines,
    )

    screener, scores = scored_labelled(args, lambda _: check_evaluation_out(args.out, args.folder, args.overwrite), args.site)
    m = evaluate_labelled(screener, args.folder, scores, args.out, args.include_outside_scope)
    if m["n_out_of_domain"]:
        print(f"{m['n_out_of_domain']} images outside the model's scope " + ("measured with the others (--include-outside-scope)."
              if args.include_outside_scope else "left out of the metrics and plots (listed in metrics.json)."), file=sys.stderr)
    print("\n".join(summary_lines(m, screener.site.describe() if screener.site else "")))
    print(f"metrics, predictions and plots -> {args.out}")
    return 1 if scores.errors else 0


def calibrate(args: argparse.Namespace) -> int:
    from app.core.evaluate.labelled import class_counts
    from app.core.io.outputs import atomic_write_bytes
    from app.core.model.site import check_site_output
    from app.core.evaluate.site_fit import check_class_counts, fit_site, report_lines

    def check_out(images: list) -> None:
        check_class_counts(class_counts(images))
        check_site_output(args.out, [p for p in (args.labels, args.model) if p], args.overwrite)

    screener, scores = scored_labelled(args, check_out)
    site = fit_site(scores, screener, args.name or Path(args.folder).resolve().name, args.min_sensitivity)
    atomic_write_bytes(args.out, site.encode())
    left_out = site.counts["left_out"]
    if left_out:
        print(f"{left_out} images outside the model's scope were left out of the calibration (listed above).", file=sys.stderr)
    print(f"Site calibration written to {args.out}: {site.describe()}")
    print("\n".join(report_lines(site)))
    return 1 if scores.errors else 0
