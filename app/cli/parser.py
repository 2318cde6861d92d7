"""`pneumoscan-cli`'s options: every command, its arguments and help, and `--version`."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.common import (
    EXIT_CODES,
    HEATMAP_FORMATS,
    add_common,
    batch_size,
    processes,
    unit_interval,
)
from app.core.scan.folder import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE


class _VersionAction(argparse.Action):
    """`--version`: the app and the model (version and sha256 prefix) from the model card, without loading the model."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the app's and the model's version and exit")

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001
        from app.selftest import version_text  # the model card's JSON only: instant

        print(version_text(one_line=True))
        parser.exit(0)


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
    add_common(predict)
    heatmap = command("heatmap", "write a Grad-CAM overlay of one image")
    heatmap.add_argument("image", type=Path)
    heatmap.add_argument("--out", type=Path, required=True,
                         help=f"image to write; its suffix picks the format ({', '.join(HEATMAP_FORMATS)})")
    heatmap.add_argument("--overwrite", action="store_true", help="replace --out if it exists (never an input)")
    heatmap.add_argument("--opacity", type=unit_interval, default=0.4,
                         help="of the heat map, 0 to 1 (default: %(default)s)")
    heatmap.add_argument("--explain", choices=("PNEUMONIA", "NORMAL"), default="PNEUMONIA",
                         help="the evidence to draw: for PNEUMONIA (default, as the app shows it: a normal film stays "
                         "clear) or for NORMAL (on a green scale)")
    add_common(heatmap)
    scan = command("scan", "scan a folder into a CSV (one row per image)")
    scan.add_argument("folder", type=Path)
    scan.add_argument("--out", type=Path, default=None, help="CSV to write (default: FOLDER_pneumoscan.csv beside the folder)")
    scan.add_argument("--recursive", action="store_true", help="include sub-folders")
    scan.add_argument("--resume", action="store_true", help="keep the CSV's finished rows, skip those files and try the ones with an error row again")
    scan.add_argument("--overwrite", action="store_true", help="replace an existing results CSV (without it, or "
                      "--resume, an existing --out is refused)")
    scan.add_argument("--excel", action="store_true", help="write UTF-8 with a byte-order mark, so Excel shows accents")
    scan.add_argument("--batch-size", type=batch_size, default=DEFAULT_BATCH_SIZE,
                      help=f"images per model call, 1 to {MAX_BATCH_SIZE} (default: %(default)s)")
    scan.add_argument("--shard", metavar="I/N", default=None,
                      help="scan only the I-th of N parts (0 to N-1; files assigned by a hash of their path) into a "
                      "part CSV for `merge` (a Slurm array job: --shard $SLURM_ARRAY_TASK_ID/N)")
    scan.add_argument("--workers", type=processes, default=0, metavar="N",
                      help="decode images in N processes (a many-core machine); 0 decodes on two threads of this "
                      "process, right for a laptop (default: %(default)s)")
    scan.add_argument("--dask", metavar="ADDRESS", default=None,
                      help="score on a Dask cluster: a scheduler address (tcp://host:8786) or local:N for N worker "
                      "processes here; the folder (and --model) must be visible at the same path on every worker "
                      "(needs pip install 'pneumoscan[cluster]')")
    add_common(scan)
    watch = command("watch", "score each new image in a folder as it arrives, appending its row to a CSV, until Ctrl-C")
    watch.add_argument("folder", type=Path)
    watch.add_argument("--out", type=Path, required=True, help="results CSV to append to (created, or continued: "
                       "a file already in it is not scored again)")
    watch.add_argument("--recursive", action="store_true", help="include sub-folders")
    watch.add_argument("--excel", action="store_true", help="write UTF-8 with a byte-order mark, so Excel shows accents")
    add_common(watch)
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
    calibrate.add_argument("--min-sensitivity", type=unit_interval, default=0.95,
                           help="the threshold keeps at least this sensitivity on the sample (default: %(default)s)")
    for sub_parser in (evaluate, calibrate):
        sub_parser.add_argument("--labels", type=Path, default=None, metavar="FILE.csv",
                                help="path,label rows (NORMAL or PNEUMONIA), paths relative to FOLDER")
        sub_parser.add_argument("--overwrite", action="store_true", help="replace the files --out would write if they exist")
    add_common(evaluate, clahe=False)
    add_common(calibrate, clahe=False, site=False)
    return parser
