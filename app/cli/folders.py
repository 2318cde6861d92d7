"""`scan`, `watch` and `merge`: folders of images into results CSVs, here or on a Dask cluster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli import common
from app.cli.common import CLAHE_CHOICES, UsageError, check_inputs, raise_terminated, stop_code


def scan_request(args: argparse.Namespace):  # noqa: ANN202 - (ScanRequest, ScanPlan, ModelBundle | None, ModelCard)
    """The request and its plan, checked in full (paths, existing CSV, a resumed CSV's rows) without loading the model; with
    the model's bundle for a scan here (opened once: the card read and the files it runs verified, then run
    by the scan), or for a Dask scan only the card (the client runs no model; each worker verifies its own)."""
    from app.core.model.bundle import ModelBundle
    from app.core.model.card import load_card
    from app.core.resources import default_model_path
    from app.core.scan.folder import ScanRequest
    from app.core.io.listing import list_images
    from app.core.scan.shards import Shard
    from app.core.model.site import SiteCalibration

    if args.dask is not None and args.workers:
        raise UsageError("--workers is for a scan on this machine; with --dask the cluster's workers do the work.")
    shard = Shard.parse(args.shard) if args.shard is not None else None
    request = ScanRequest(args.folder, args.out, args.recursive, args.resume, args.overwrite,
                          CLAHE_CHOICES[args.clahe], args.batch_size, args.excel, shard, args.workers)
    model_path = Path(args.model) if args.model else default_model_path()
    bundle = ModelBundle.open(model_path, args.backend) if args.dask is None else None  # the sha256 checks, not the model
    card = bundle.card if bundle else load_card(model_path)
    # a damaged or foreign site file: refused before any work
    site = SiteCalibration.load(args.site, card.sha256).sha256 if args.site else ""
    plan = request.check(card, site)
    if not plan.images:
        hint = ""
        if not args.recursive and (nested := list_images(args.folder, recursive=True)):
            hint = f" Its sub-folders hold {len(nested)}: add --recursive."
        raise UsageError(f"No images in {args.folder} (JPEG, PNG, BMP, TIFF or DICOM).{hint}")
    return request, plan, bundle, card


def dask_scan(args: argparse.Namespace, request, plan, card):  # noqa: ANN001, ANN202 - ScanRequest, ScanPlan, ModelCard -> Iterator[ScanUpdate]
    """The request on a Dask cluster: the client has read the model card only; each worker loads the model."""
    from app.core.scan.distributed import DaskTarget, ModelSpec, require_dask, scan_on_dask

    target = DaskTarget.parse(args.dask)
    require_dask()

    def ready(load_seconds: dict[str, float]) -> None:
        times = sorted(load_seconds.values())
        print(f"{len(times)} Dask workers ready (model loaded in {times[0]:.2f}-{times[-1]:.2f} s)",
              file=sys.stderr, flush=True)

    return scan_on_dask(target, card, ModelSpec.of(card, args.model, args.backend, args.site), request, ready, plan)


def summary(rows: list | tuple) -> str:  # noqa: ANN001 - ScanRow
    """"N flagged PNEUMONIA, N with warnings, N errors" of some rows."""
    return (f"{sum(row.flagged for row in rows)} flagged PNEUMONIA, {sum(row.status == 'warning' for row in rows)} "
            f"with warnings, {sum(row.status == 'error' for row in rows)} errors")


def scan(args: argparse.Namespace) -> int:
    import signal

    from app.core.progress import progress_bar

    signal.signal(signal.SIGTERM, raise_terminated)
    request, plan, bundle, card = scan_request(args)
    out = request.csv_path
    if args.dask is not None:
        updates = dask_scan(args, request, plan, card)
    else:
        updates = request.start(common.open_screener(args.model, args.backend, args.site, bundle), plan)
    counts = {"ok": 0, "warning": 0, "error": 0}
    flagged = done = 0
    bar = None
    resumed: tuple = ()
    try:
        for update in updates:
            for row in update.rows:
                counts[row.status] += 1
                flagged += row.flagged
            if update.note:
                print(f"note: {update.note}.", file=sys.stderr, flush=True)
            resumed = resumed or update.resumed
            if bar is None:  # the total is known from the first update on
                bar = progress_bar(update.total, "img", "scan")
                if update.skipped:
                    bar.set_postfix_str(f"{update.skipped} already in the CSV", refresh=False)
            bar.update(update.done - done)
            done = update.done
    except KeyboardInterrupt as exc:
        if bar is not None:
            bar.close()
        print(f"Stopped after {done} images; {out} holds every finished row. "
              "Run again with --resume to continue.", file=sys.stderr)
        return stop_code(exc)
    if bar is not None:
        bar.close()
    this_run = (f"{flagged} flagged PNEUMONIA, {counts['warning']} with warnings, {counts['error']} errors")
    site = f" (site calibration {args.site})" if args.site else ""
    if resumed:
        print(f"{done} new: {this_run}; {len(resumed)} already in the CSV: {summary(resumed)} -> {out}{site}")
    else:
        print(f"{done} scanned: {this_run} -> {out}{site}")
    return 1 if counts["error"] else 0


def watch(args: argparse.Namespace) -> int:
    """Until Ctrl-C or SIGTERM (either sets the stop event; the pass under way finishes and is written)."""
    import signal
    import threading

    from app.core.model.bundle import ModelBundle
    from app.core.scan.watch import WatchRequest, watch_folder

    check_inputs([args.site] if args.site else [])
    request = WatchRequest(args.folder, args.out, args.recursive, CLAHE_CHOICES[args.clahe], args.excel)
    bundle = ModelBundle.open(args.model, args.backend)  # the card and the files it runs, read and verified once
    kept = request.check(bundle.card.version, bundle.card.sha256)  # before the model loads
    screener = common.open_screener(args.model, args.backend, args.site, bundle)
    stop = threading.Event()
    for name in ("SIGINT", "SIGTERM"):
        signal.signal(getattr(signal, name), lambda *_: stop.set())
    print(f"Watching {args.folder} ({len(kept)} already in {args.out}); Ctrl-C stops.", file=sys.stderr, flush=True)
    scored = errors = 0
    for rows in watch_folder(screener, request, stop):
        for row in rows:
            scored += 1
            errors += row.status == "error"
            if row.status == "error":
                print(f"{row.path}: ERROR {row.error}", file=sys.stderr, flush=True)
            else:
                print(f"{row.path}: {row.answer}", flush=True)
    print(f"Stopped: {scored} images scored this run, {errors} errors -> {args.out}", file=sys.stderr)
    return 1 if errors else 0


def merge(args: argparse.Namespace) -> int:
    from app.core.scan.merge import IncompleteParts, check_merge_output, merge_parts

    check_inputs(args.parts)
    check_merge_output(args.parts, args.out, args.overwrite)
    try:
        merged = merge_parts(args.parts, args.out, args.excel)
    except IncompleteParts as exc:
        print(f"pneumoscan-cli: {exc}", file=sys.stderr)
        for label, paths in (("missing", exc.missing), ("duplicated", exc.duplicated)):
            for path in paths:
                print(f"  {label}: {path}", file=sys.stderr)
        return 1
    for path in merged.gone:
        print(f"note: {path} has a row but is no longer in the folder (kept)", file=sys.stderr)
    print(f"{merged.rows} rows from {len(args.parts)} parts: {merged.flagged} flagged PNEUMONIA, "
          f"{merged.errors} errors -> {args.out}")
    return 1 if merged.errors else 0
