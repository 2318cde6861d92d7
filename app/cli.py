"""`pneumoscan-cli`: predict, heatmap, scan, watch, merge, evaluate and calibrate from a terminal, on the same
engine as the GUI.

Every path and option is checked before the model loads, and no output may overwrite an input or an
unrelated file (`app.core.io.outputs`). Results go to stdout, messages to stderr; the exit code says
which kind of answer it was (`EXIT_CODES`). An unexpected error prints one line and the path of a
log file holding its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import json
import os
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from app import __version__
from app.core.errors import OutputError, PneumoScanError
from app.core.scan.folder import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, MAX_PROCESSES

CLAHE_CHOICES = {"model": None, "on": True, "off": False}
HEATMAP_FORMATS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")  # chosen by --out's suffix
EXIT_CODES = """exit codes:
  0  every file was scored
  1  some files could not be scored (their lines or CSV rows say why); merge: files missing or duplicated
  2  usage or environment error: bad option, missing path, output refused or unwritable, bad model"""


class UsageError(PneumoScanError):
    """A path or option the user must change; reported before the model loads (exit 2)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a `kill`, a job scheduler's time limit): stopped as Ctrl-C stops, with exit code 143."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def _stop_code(exc: KeyboardInterrupt) -> int:
    return 143 if isinstance(exc, Terminated) else 130  # 128 + the signal's number


def _unit_interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, not {text!r}")
    return value


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type for a whole number in [low, high]; anything else is refused, never clamped."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}, not {text!r}")
        return value
    return parse


_batch_size = _whole_number(1, MAX_BATCH_SIZE)
_processes = _whole_number(0, MAX_PROCESSES)


class _VersionAction(argparse.Action):
    """`--version`: the app and the model (version and sha256 prefix) from the model card, without loading the model."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the app's and the model's version and exit")

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001
        print(version_text())
        parser.exit(0)


def version_text(model_path: Path | None = None) -> str:
    from app.core.model.backend import file_that_runs
    from app.core.model.card import CARD_NAME
    from app.core.resources import default_model_path

    model_path = Path(model_path) if model_path else default_model_path()
    try:
        card = json.loads((model_path.parent / CARD_NAME).read_text(encoding="utf-8-sig"))
        runs = file_that_runs(model_path, (card.get("onnx") or {}).get("file"), card["model_file"])
        model = f"model {card['name']} {card['version']} (sha256 {str(card['sha256'])[:12]}), runs {runs.name}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        model = f"model unavailable ({model_path.parent / CARD_NAME}: {exc.__class__.__name__})"
    return f"PneumoScan {__version__}, {model}"


def _add_common(parser: argparse.ArgumentParser, clahe: bool = True, site: bool = True) -> None:
    parser.add_argument("--model", type=Path, default=None,
                        help="a .keras or .onnx model with model_card.json beside it (default: the bundled model, or $PNEUMOSCAN_MODEL)")
    parser.add_argument("--backend", choices=("onnx", "keras"), default=None,
                        help="run the model on ONNX Runtime or on TensorFlow/Keras (default: onnx when the model "
                        "has an ONNX export, else keras; or $PNEUMOSCAN_BACKEND)")
    if clahe:
        parser.add_argument("--clahe", choices=tuple(CLAHE_CHOICES), default="model",
                            help="CLAHE before the model: as the model card says, or forced on/off (default: %(default)s)")
    if site:
        parser.add_argument("--site", type=Path, default=None, metavar="SITE.json",
                            help="a site calibration of this model (pneumoscan-cli calibrate): its temperature, offset and threshold")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pneumoscan-cli", description="Screen chest X-rays for pneumonia "
                                     "(research tool, not a medical device).", epilog=EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text, epilog=EXIT_CODES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    predict = command("predict", "probability of pneumonia for one or more images")
    predict.add_argument("images", nargs="+", type=Path)
    predict.add_argument("--json", action="store_true", help="one JSON object per line (errors too)")
    _add_common(predict)
    heatmap = command("heatmap", "write a Grad-CAM overlay of one image")
    heatmap.add_argument("image", type=Path)
    heatmap.add_argument("--out", type=Path, required=True,
                         help=f"image to write; its suffix picks the format ({', '.join(HEATMAP_FORMATS)})")
    heatmap.add_argument("--overwrite", action="store_true", help="replace --out if it exists (never an input)")
    heatmap.add_argument("--opacity", type=_unit_interval, default=0.4,
                         help="of the heat map, 0 to 1 (default: %(default)s)")
    heatmap.add_argument("--explain", choices=("PNEUMONIA", "NORMAL"), default="PNEUMONIA",
                         help="the evidence to draw: for PNEUMONIA (default, as the app shows it: a normal film stays "
                         "clear) or for NORMAL (on a green scale)")
    _add_common(heatmap)
    scan = command("scan", "scan a folder into a CSV (one row per image)")
    scan.add_argument("folder", type=Path)
    scan.add_argument("--out", type=Path, default=None, help="CSV to write (default: FOLDER_pneumoscan.csv beside the folder)")
    scan.add_argument("--recursive", action="store_true", help="include sub-folders")
    scan.add_argument("--resume", action="store_true", help="keep the CSV's finished rows, skip those files and try the ones with an error row again")
    scan.add_argument("--overwrite", action="store_true", help="replace an existing results CSV (without it, or "
                      "--resume, an existing --out is refused)")
    scan.add_argument("--excel", action="store_true", help="write UTF-8 with a byte-order mark, so Excel shows accents")
    scan.add_argument("--batch-size", type=_batch_size, default=DEFAULT_BATCH_SIZE,
                      help=f"images per model call, 1 to {MAX_BATCH_SIZE} (default: %(default)s)")
    scan.add_argument("--shard", metavar="I/N", default=None,
                      help="scan only the I-th of N parts (0 to N-1; files assigned by a hash of their path) into a "
                      "part CSV for `merge` (a Slurm array job: --shard $SLURM_ARRAY_TASK_ID/N)")
    scan.add_argument("--workers", type=_processes, default=0, metavar="N",
                      help="decode images in N processes (a many-core machine); 0 decodes on two threads of this "
                      "process, right for a laptop (default: %(default)s)")
    scan.add_argument("--dask", metavar="ADDRESS", default=None,
                      help="score on a Dask cluster: a scheduler address (tcp://host:8786) or local:N for N worker "
                      "processes here; the folder (and --model) must be visible at the same path on every worker "
                      "(needs pip install 'pneumoscan[cluster]')")
    _add_common(scan)
    watch = command("watch", "score each new image in a folder as it arrives, appending its row to a CSV, until Ctrl-C")
    watch.add_argument("folder", type=Path)
    watch.add_argument("--out", type=Path, required=True, help="results CSV to append to (created, or continued: "
                       "a file already in it is not scored again)")
    watch.add_argument("--recursive", action="store_true", help="include sub-folders")
    watch.add_argument("--excel", action="store_true", help="write UTF-8 with a byte-order mark, so Excel shows accents")
    _add_common(watch)
    merge = command("merge", "merge the part CSVs of a sharded scan into one CSV, sorted like a single scan")
    merge.add_argument("parts", nargs="+", type=Path, help="the part CSVs (scan --shard I/N), all N of them")
    merge.add_argument("--out", type=Path, required=True, help="CSV to write")
    merge.add_argument("--overwrite", action="store_true", help="replace --out if it is an existing results CSV")
    merge.add_argument("--excel", action="store_true", help="write UTF-8 with a byte-order mark, so Excel shows accents")
    labelled = "FOLDER holds NORMAL/ and PNEUMONIA/, or --labels lists its images"
    evaluate = command("evaluate", f"the model's performance on labelled X-rays: metrics.json, predictions.csv and plots ({labelled})")
    evaluate.add_argument("folder", type=Path)
    evaluate.add_argument("--out", type=Path, required=True, help="folder for metrics.json, predictions.csv, roc.png, reliability.png")
    evaluate.add_argument("--include-outside-scope", action="store_true",
                          help="measure the images outside the model's scope too (default: reported apart, left out)")
    calibrate = command("calibrate", f"fit a site calibration (temperature, offset, threshold) on labelled X-rays ({labelled})")
    calibrate.add_argument("folder", type=Path)
    calibrate.add_argument("--out", type=Path, required=True, help="the site calibration file to write (SITE.json)")
    calibrate.add_argument("--name", default=None, help="the site's name in every report (default: the folder's name)")
    calibrate.add_argument("--min-sensitivity", type=_unit_interval, default=0.95,
                           help="the threshold keeps at least this sensitivity on the sample (default: %(default)s)")
    for sub_parser in (evaluate, calibrate):
        sub_parser.add_argument("--labels", type=Path, default=None, metavar="FILE.csv",
                                help="path,label rows (NORMAL or PNEUMONIA), paths relative to FOLDER")
        sub_parser.add_argument("--overwrite", action="store_true", help="replace the files --out would write if they exist")
    _add_common(evaluate, clahe=False)
    _add_common(calibrate, clahe=False, site=False)
    return parser


def _open_screener(model: Path | None, backend: str | None, site: Path | None = None):  # noqa: ANN202 - lazy: --help stays instant
    from app.core.errors import ModelError
    from app.core.screening import Screener

    try:
        with _native_stderr_silenced():
            return Screener(model, backend, site)
    except PneumoScanError:
        raise
    except Exception as exc:  # a damaged statistics file, an odd archive: a bad model, not a crash
        raise ModelError(f"The model {model or 'bundled with PneumoScan'} could not be opened "
                         f"({type(exc).__name__}: {exc}); reinstall or retrain it.") from exc


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 to /dev/null: TensorFlow's C++ start-up notices (oneDNN, absl) ignore TF_CPP_MIN_LOG_LEVEL."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _check_inputs(paths: list[Path]) -> None:
    """A path that does not exist is a typing mistake: refused before the model loads."""
    missing = [str(path) for path in paths if not os.path.lexists(path)]
    if missing:
        raise UsageError(f"No such file: {', '.join(missing)}")


def _predict(args: argparse.Namespace) -> int:
    from app.core.scan.row import ScanRow

    _check_inputs(args.images)
    for path in args.images:
        if path.is_dir():
            raise UsageError(f"{path} is a folder; predict takes image files. To score every image in it: "
                             f"pneumoscan-cli scan {path}")
    screener = _open_screener(args.model, args.backend, args.site)
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


def _heatmap(args: argparse.Namespace) -> int:
    import cv2

    from app.core.explain.colour import overlay, scale_description
    from app.core.io.images import load_image, load_model_image
    from app.core.io.outputs import atomic_write_bytes
    from app.core.scan.row import ScanRow

    _check_inputs([args.image])
    _check_heatmap_out(args)
    screener = _open_screener(args.model, args.backend, args.site)
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


def _scan_request(args: argparse.Namespace):  # noqa: ANN202 - (ScanRequest, ScanPlan) of app.core.scan.folder
    """The request and its plan, checked in full (paths, existing CSV, a resumed CSV's rows) without loading the model."""
    from app.core.model.card import read_card
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
    card = read_card(Path(args.model) if args.model else default_model_path())  # the sha256 check, not the model
    # a damaged or foreign site file: refused before any work
    site = SiteCalibration.load(args.site, card.sha256).sha256 if args.site else ""
    plan = request.check(card, site)
    if not plan.images:
        hint = ""
        if not args.recursive and (nested := list_images(args.folder, recursive=True)):
            hint = f" Its sub-folders hold {len(nested)}: add --recursive."
        raise UsageError(f"No images in {args.folder} (JPEG, PNG, BMP, TIFF or DICOM).{hint}")
    return request, plan


def _dask_scan(args: argparse.Namespace, request, plan):  # noqa: ANN001, ANN202 - ScanRequest -> Iterator[ScanUpdate]
    """The request on a Dask cluster: the client reads the model card only; each worker loads the model."""
    from app.core.scan.distributed import DaskTarget, ModelSpec, require_dask, scan_on_dask
    from app.core.model.card import read_card
    from app.core.resources import default_model_path

    target = DaskTarget.parse(args.dask)
    require_dask()
    card = read_card(Path(args.model) if args.model else default_model_path())

    def ready(load_seconds: dict[str, float]) -> None:
        times = sorted(load_seconds.values())
        print(f"{len(times)} Dask workers ready (model loaded in {times[0]:.2f}-{times[-1]:.2f} s)",
              file=sys.stderr, flush=True)

    return scan_on_dask(target, card, ModelSpec.of(card, args.model, args.backend, args.site), request, ready, plan)


def _summary(rows: list | tuple) -> str:  # noqa: ANN001 - ScanRow
    """"N flagged PNEUMONIA, N with warnings, N errors" of some rows."""
    return (f"{sum(row.flagged for row in rows)} flagged PNEUMONIA, {sum(row.status == 'warning' for row in rows)} "
            f"with warnings, {sum(row.status == 'error' for row in rows)} errors")


def _scan(args: argparse.Namespace) -> int:
    import signal

    from app.core.progress import progress_bar

    signal.signal(signal.SIGTERM, _raise_terminated)
    request, plan = _scan_request(args)
    out = request.csv_path
    if args.dask is not None:
        updates = _dask_scan(args, request, plan)
    else:
        updates = request.start(_open_screener(args.model, args.backend, args.site), plan)
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
        return _stop_code(exc)
    if bar is not None:
        bar.close()
    this_run = (f"{flagged} flagged PNEUMONIA, {counts['warning']} with warnings, {counts['error']} errors")
    site = f" (site calibration {args.site})" if args.site else ""
    if resumed:
        print(f"{done} new: {this_run}; {len(resumed)} already in the CSV: {_summary(resumed)} -> {out}{site}")
    else:
        print(f"{done} scanned: {this_run} -> {out}{site}")
    return 1 if counts["error"] else 0


def _watch(args: argparse.Namespace) -> int:
    """Until Ctrl-C or SIGTERM (either sets the stop event; the pass under way finishes and is written)."""
    import signal
    import threading

    from app.core.model.card import read_card
    from app.core.resources import default_model_path
    from app.core.scan.watch import WatchRequest, watch_folder

    _check_inputs([args.site] if args.site else [])
    request = WatchRequest(args.folder, args.out, args.recursive, CLAHE_CHOICES[args.clahe], args.excel)
    card = read_card(Path(args.model) if args.model else default_model_path())
    kept = request.check(card.version, card.sha256)  # before the model loads
    screener = _open_screener(args.model, args.backend, args.site)
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


def _merge(args: argparse.Namespace) -> int:
    from app.core.scan.merge import IncompleteParts, check_merge_output, merge_parts

    _check_inputs(args.parts)
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


def _scored_labelled(args: argparse.Namespace, check_out: Callable[[list], None], site: Path | None = None):  # noqa: ANN202
    """The labelled images read and the output checked (before the model loads), then scored; the
    images the model may not answer for and the unreadable ones named on stderr."""
    from app.core.evaluate.report import score_labelled
    from app.core.evaluate.labelled import read_labelled, relative_name
    from app.core.progress import counting

    images = read_labelled(args.folder, args.labels)
    if not images:
        raise UsageError(f"No images in {args.folder}/NORMAL or {args.folder}/PNEUMONIA.")
    check_out(images)
    screener = _open_screener(args.model, args.backend, site)
    with counting(len(images), "img", args.command) as progress:
        scores = score_labelled(screener, images, progress)
    for path, message in scores.errors.items():
        print(f"note: {relative_name(path, args.folder)} could not be read, left out: {message}", file=sys.stderr)
    for image, scope, answered in zip(scores.images, scores.scopes, scores.answered):
        if not answered:
            print(f"note: {relative_name(image.path, args.folder)}: {scope}", file=sys.stderr)
    return screener, scores


def _evaluate(args: argparse.Namespace) -> int:
    from app.core.evaluate.report import (
        check_evaluation_out,
        evaluate_labelled,
        summary_lines,
    )

    screener, scores = _scored_labelled(args, lambda _: check_evaluation_out(args.out, args.folder, args.overwrite), args.site)
    m = evaluate_labelled(screener, args.folder, scores, args.out, args.include_outside_scope)
    if m["n_out_of_domain"]:
        print(f"{m['n_out_of_domain']} images outside the model's scope " + ("measured with the others (--include-outside-scope)."
              if args.include_outside_scope else "left out of the metrics and plots (listed in metrics.json)."), file=sys.stderr)
    print("\n".join(summary_lines(m, screener.site.describe() if screener.site else "")))
    print(f"metrics, predictions and plots -> {args.out}")
    return 1 if scores.errors else 0


def _calibrate(args: argparse.Namespace) -> int:
    from app.core.evaluate.labelled import class_counts
    from app.core.io.outputs import atomic_write_bytes
    from app.core.model.site import check_site_output
    from app.core.evaluate.site_fit import check_class_counts, fit_site, report_lines

    def check_out(images: list) -> None:
        check_class_counts(class_counts(images))
        check_site_output(args.out, [p for p in (args.labels, args.model) if p], args.overwrite)

    screener, scores = _scored_labelled(args, check_out)
    site = fit_site(scores, screener, args.name or Path(args.folder).resolve().name, args.min_sensitivity)
    atomic_write_bytes(args.out, site.encode())
    left_out = site.counts["left_out"]
    if left_out:
        print(f"{left_out} images outside the model's scope were left out of the calibration (listed above).", file=sys.stderr)
    print(f"Site calibration written to {args.out}: {site.describe()}")
    print("\n".join(report_lines(site)))
    return 1 if scores.errors else 0


def _quiet_frameworks() -> None:
    """TensorFlow's and ONNX Runtime's start-up chatter is not the user's business on stderr."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ORT_LOGGING_LEVEL", "3")
    os.environ.setdefault("GLOG_minloglevel", "3")
    warnings.filterwarnings("ignore", module=r"(keras|tensorflow|absl|onnxruntime)(\.|$)")


def _log_unexpected(exc: BaseException) -> Path | None:
    """The traceback in a log file (the user gets one line and this path)."""
    path = Path(tempfile.gettempdir()) / f"pneumoscan-cli-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    try:
        path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    except OSError:
        return None
    return path


def _lossless_streams() -> None:
    """A file name that is not valid UTF-8 (bytes from another system) is printed as its own bytes, as `ls` does
    to a pipe (escaped with backslashes when the terminal is not UTF-8), instead of raising UnicodeEncodeError
    in the middle of a scan."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):  # not a test's capture object
            utf8 = stream.encoding.lower().replace("-", "") == "utf8"
            stream.reconfigure(errors="surrogateescape" if utf8 else "backslashreplace")  # never an exception


def main(argv: list[str] | None = None) -> int:
    _quiet_frameworks()
    _lossless_streams()
    args = build_parser().parse_args(argv)
    try:
        commands = {"predict": _predict, "heatmap": _heatmap, "scan": _scan, "watch": _watch, "merge": _merge,
                    "evaluate": _evaluate, "calibrate": _calibrate}
        code = commands[args.command](args)
        sys.stdout.flush()  # a full or closed stdout shows here, not at exit
        return code
    except PneumoScanError as exc:
        print(f"pneumoscan-cli: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print("pneumoscan-cli: stopped.", file=sys.stderr)
        return _stop_code(exc)
    except OSError as exc:
        if not _is_stdout_error(exc):
            return _unexpected(exc)
        _detach_stdout()
        if exc.errno == errno.EPIPE:  # `| head -1`: the reader has all it wants; quiet, as Unix tools are
            return 141
        print(f"pneumoscan-cli: cannot write the results to stdout: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - anything not anticipated: one line, the traceback in a file
        return _unexpected(exc)


def _unexpected(exc: BaseException) -> int:
    log = _log_unexpected(exc)
    print(f"pneumoscan-cli: unexpected error ({type(exc).__name__}: {exc})"
          + (f"; details in {log}" if log else ""), file=sys.stderr)
    return 2


def _is_stdout_error(exc: OSError) -> bool:
    """A closed pipe or a full device behind stdout: every file PneumoScan writes reports its own errors as an
    `OutputError`, so an EPIPE or ENOSPC that reaches `main` is stdout's."""
    return exc.errno in (errno.EPIPE, errno.ENOSPC)


def _detach_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's flush at exit does not fail a second time."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


if __name__ == "__main__":
    raise SystemExit(main())
