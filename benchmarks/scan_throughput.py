"""Folder-scan throughput against the bare model's, in one run on the same files (issue 21 item 5).

The comparison that matters, on onnx, repeated `--runs` times in turn (medians and ranges printed):

  bare model  OnnxBackend.infer on tensors prepared beforehand, in the scan's batch size: what the
              model alone allows, with no decoding at all
  scan        the `pneumoscan-cli scan` path through the engine API (ScanRequest.check, then the plan's
              scan on a Screener), the CSV written to a temporary folder

and their ratio (goal: scan >= 85 % of the bare model). With `--extras`, the older rows too, each warmed
up before it is timed:

  seed-style  for each file: keras.utils.load_img(path, target_size=(224, 224)) + mobilenet_v2
              preprocess_input + model.predict on one image (what the original notebook did)
  keras       scan and bare model on the keras backend
  --processes N   the scan with N decode processes (spawned, the model stays in this process)
  --dask-workers N  a LocalCluster of N processes, each loading the model once (its load time is
                  reported per worker); the scan is timed after the workers are ready

    python benchmarks/scan_throughput.py [--data /work/shared/data/originals] [--model M] [--runs 5]
        [--batch-size 16] [--extras [--seed-limit N] [--processes 2] [--dask-workers 2]]

The folder: --data, else $PNEUMOSCAN_SCAN_DATA, else $PNEUMOSCAN_SHARED/data/originals; absent: skipped.
Without a bundled model (and no --model) a freshly built random-weights model of the product's
architecture is used, exported to ONNX: throughput does not depend on the weights.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.core.io.images import load_model_image  # noqa: E402
from app.core.io.listing import list_images  # noqa: E402
from app.core.resources import default_model_path  # noqa: E402
from app.core.scan.folder import ScanRequest, scan_folder  # noqa: E402
from app.core.scan.local_scorer import DEFAULT_BATCH_SIZE  # noqa: E402


def default_data() -> Path:
    """--data's default: $PNEUMOSCAN_SCAN_DATA, else the shared originals."""
    if os.environ.get("PNEUMOSCAN_SCAN_DATA"):
        return Path(os.environ["PNEUMOSCAN_SCAN_DATA"])
    return Path(os.environ.get("PNEUMOSCAN_SHARED", REPO.parent / "shared")) / "data" / "originals"


def random_model(folder: Path) -> Path:
    """The product's architecture with random weights, saved with a matching model card."""
    from app.core.model.card import ModelCard, sha256_of
    from model_training.architecture import build_model

    from model_training.export import export_onnx

    path = folder / "random_mobilenetv2.keras"
    build_model(None).save(path)
    ModelCard(name="random weights (benchmark)", version="0.0.0-benchmark", model_file=path.name,
              sha256=sha256_of(path)).save(folder)
    export_onnx(path)
    return path


def seed_style(model_path: Path, files: list[Path]) -> float:
    """Seconds for the seed's loop over `files` (after one warm-up image)."""
    import keras
    import numpy as np

    model = keras.models.load_model(model_path, compile=False)

    def one(path: Path) -> float:
        image = keras.utils.img_to_array(keras.utils.load_img(path, target_size=(224, 224)))
        batch = keras.applications.mobilenet_v2.preprocess_input(np.expand_dims(image, 0))
        return float(model.predict(batch, verbose=0)[0, 0])

    one(files[0])
    start = time.perf_counter()
    for path in files:
        one(path)
    return time.perf_counter() - start


def engine_scan(screener, folder: Path, batch_size: int, out: Path) -> tuple[float, int]:  # noqa: ANN001
    """Seconds and files done for `pneumoscan-cli scan FOLDER --recursive --overwrite` through the engine API:
    the request checked (listing, output) as the CLI does before the model loads, then scanned."""
    start = time.perf_counter()
    request = ScanRequest(folder, out, recursive=True, overwrite=True, batch_size=batch_size)
    plan = request.check(screener.card, screener.site_sha256)
    done = 0
    for update in request.start(screener, plan):
        done = update.done
    return time.perf_counter() - start, done


def scan(screener, folder: Path, batch_size: int, workers: int, out: Path, processes: int = 0) -> tuple[float, int]:  # noqa: ANN001
    start = time.perf_counter()
    done = 0
    for update in scan_folder(screener, folder, out, recursive=True, batch_size=batch_size, workers=workers,
                              processes=processes):
        done = update.done
    return time.perf_counter() - start, done


def dask_scan(model_path: Path, folder: Path, batch_size: int, workers: int, out: Path) -> tuple[float, float, list[float], int]:
    """(cluster start + model loads, scan after the workers are ready, each worker's model load time, files done)."""
    from app.core.scan.distributed import DaskTarget, ModelSpec, scan_on_dask
    from app.core.model.card import read_card

    card = read_card(model_path)
    marks: dict[str, object] = {}

    def ready(load_seconds: dict[str, float]) -> None:
        marks["ready"], marks["loads"] = time.perf_counter(), sorted(load_seconds.values())

    start = time.perf_counter()
    done, last = 0, start
    request = ScanRequest(folder, out, recursive=True, batch_size=batch_size)
    for update in scan_on_dask(DaskTarget(local_workers=workers), card, ModelSpec.of(card, model_path, "onnx"), request,
                               on_ready=ready):
        done, last = update.done, time.perf_counter()
    ready_at = float(marks["ready"])  # type: ignore[arg-type]
    return ready_at - start, last - ready_at, marks["loads"], done  # type: ignore[return-value]


def prepared_tensors(screener, files: list[Path]):  # noqa: ANN001, ANN201 - np.ndarray
    """The model's input for every file, as the scan makes it (its copy of the file, then the card's steps)."""
    import numpy as np

    return np.stack([screener.prepare(load_model_image(path, screener.card.input_size)).tensor for path in files])


def bare_model(screener, tensors, batch_size: int) -> float:  # noqa: ANN001
    """Seconds for `infer` on all tensors, `batch_size` at a time (as the scan calls it)."""
    start = time.perf_counter()
    for first in range(0, len(tensors), batch_size):
        screener.backend.infer(tensors[first : first + batch_size], chunk=batch_size)
    return time.perf_counter() - start


def spread(counts: int, seconds: list[float]) -> str:
    """Median img/s and the range over the runs."""
    rates = sorted(counts / s for s in seconds)
    return f"{statistics.median(rates):8.1f}   ({rates[0]:.1f} - {rates[-1]:.1f})"


def compare(screener, files: list[Path], folder: Path, batch_size: int, runs: int, tmp: Path) -> None:  # noqa: ANN001
    """The bare model and the scan in turn, `runs` times, after a warm-up of each; medians side by side."""
    tensors = prepared_tensors(screener, files)
    bare_model(screener, tensors[: 2 * batch_size], batch_size)  # first runs allocate
    engine_scan(screener, folder, batch_size, tmp / "warm.csv")  # thread pool, a first pass through the CSV
    model_s, scan_s = [], []
    for _ in range(runs):
        model_s.append(bare_model(screener, tensors, batch_size))
        secs, done = engine_scan(screener, folder, batch_size, tmp / "scan.csv")
        if done != len(files):
            print(f"warning: the scan finished {done} of {len(files)} files", file=sys.stderr)
        scan_s.append(secs)
    n = len(files)
    ratio = statistics.median(model_s) / statistics.median(scan_s)
    print(f"\n{'onnx, batch ' + str(batch_size) + ', ' + str(runs) + ' runs':<52} {'median img/s':>14}   range")
    print(f"{'bare model (infer on prepared tensors)':<52} {spread(n, model_s)}")
    print(f"{'scan end to end (check + scan + CSV)':<52} {spread(n, scan_s)}")
    print(f"{'scan / bare model (medians)':<52} {100 * ratio:7.0f} %   (goal >= 85 %)")




def ceiling(screener, files: list[Path]) -> float:  # noqa: ANN001
    """Median seconds of three passes of batched inference (batches of 32) on all files' prepared tensors."""
    tensors = prepared_tensors(screener, files)
    screener.backend.infer(tensors[:32])  # warm-up (traced at construction; first run allocates)
    return statistics.median(bare_model(screener, tensors, 32) for _ in range(3))


def extras(args: argparse.Namespace, model_path: Path, files: list[Path], tmp: Path) -> None:
    """The rows of issues 12 and 15: the seed's loop, the keras backend, decode processes, a local Dask cluster."""
    from app.core.screening import Screener

    rates: dict[str, tuple[int, float]] = {}  # method -> (images, seconds)
    notes: list[str] = []
    warm = tmp / "warm"
    warm.mkdir(exist_ok=True)
    for path in files[: args.batch_size]:
        (warm / path.name).symlink_to(path)
    for backend in args.backends:
        screener = Screener(model_path, backend)
        scan(screener, warm, args.batch_size, args.workers, tmp / "warm.csv")  # tracing, thread pool, the CSV
        scan_s, scanned = scan(screener, args.data, args.batch_size, args.workers, tmp / "scan.csv")
        rates[f"scan_folder on {backend} (batch {args.batch_size}, {args.workers} workers, CSV)"] = (scanned, scan_s)
        rates[f"ceiling on {backend} (infer, batch 32, no decoding)"] = (len(files), ceiling(screener, files))
        if backend == "onnx" and args.processes:
            secs, scanned = scan(screener, args.data, args.batch_size, args.workers, tmp / "processes.csv", args.processes)
            rates[f"scan --workers {args.processes} on onnx (decode processes, spawn included)"] = (scanned, secs)
        del screener
    if "onnx" in args.backends and args.dask_workers:
        startup, secs, loads, scanned = dask_scan(model_path, args.data, args.batch_size, args.dask_workers,
                                                  tmp / "dask.csv")
        rates[f"scan --dask local:{args.dask_workers} on onnx (workers ready)"] = (scanned, secs)
        notes.append(f"--dask local:{args.dask_workers}: cluster start and model loads {startup:.2f} s; model load "
                     f"per worker {', '.join(f'{t:.2f}' for t in loads)} s")
    seed_files = files[: args.seed_limit] if args.seed_limit else files
    seed_rate = len(seed_files) / seed_style(model_path, seed_files)
    print()
    print(f"{'method':<60} {'images':>6} {'seconds':>8} {'img/s':>8} {'x seed':>7}")
    print(f"{'seed-style (load_img + predict, 1 image)':<60} {len(seed_files):>6} {len(seed_files) / seed_rate:>8.2f} "
          f"{seed_rate:>8.1f} {1.0:>7.1f}")
    for name, (count, secs) in rates.items():
        print(f"{name:<60} {count:>6} {secs:>8.2f} {count / secs:>8.1f} {count / secs / seed_rate:>7.1f}")
    for note in notes:
        print(note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the bundled model, else random weights")
    parser.add_argument("--data", type=Path, default=default_data(), help="folder of X-rays (scanned recursively)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="scan batch size (the CLI's default)")
    parser.add_argument("--runs", type=int, default=5, help="turns of bare model and scan (medians reported)")
    parser.add_argument("--extras", action="store_true", help="also the seed-style, keras, processes and Dask rows")
    parser.add_argument("--workers", type=int, default=2, help="--extras: the scan_folder rows' decoding threads")
    parser.add_argument("--seed-limit", type=int, default=0, help="--extras: time the seed loop on the first N files")
    parser.add_argument("--backends", nargs="+", choices=("onnx", "keras"), default=["onnx", "keras"],
                        help="--extras: the backends of the scan_folder rows")
    parser.add_argument("--processes", type=int, default=2, help="--extras: decode processes of the --workers row")
    parser.add_argument("--dask-workers", type=int, default=2, help="--extras: processes of the --dask local:N row")
    args = parser.parse_args(argv)

    if not args.data.is_dir():
        print(f"skipped: no data at {args.data} (set --data, $PNEUMOSCAN_SCAN_DATA or $PNEUMOSCAN_SHARED)")
        return 0
    files = list_images(args.data, recursive=True)
    if not files:
        print(f"No images under {args.data}", file=sys.stderr)
        return 1
    for path in files:  # page cache warm for all: decoding is measured, not the first disk read
        path.read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        model_path = args.model or default_model_path()
        kind = "given" if args.model else "bundled"
        if not model_path.exists():
            if args.model:
                print(f"Model not found: {model_path}", file=sys.stderr)
                return 1
            model_path, kind = random_model(tmp), "random weights, product architecture"
        from app.core.screening import Screener

        print(f"model: {model_path} ({kind}); {len(files)} files from {args.data}; CPU cores: {os.cpu_count()}; "
              f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        compare(Screener(model_path, "onnx"), files, args.data, args.batch_size, args.runs, tmp)
        if args.extras:
            extras(args, model_path, files, tmp)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
