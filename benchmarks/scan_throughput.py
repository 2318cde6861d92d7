"""Folder-scan throughput on both backends, side by side with the seed's one-image loop and the bare model.

Three ways through the same full-resolution X-rays (default: the 100 shared originals, recursive),
with the same model, each warmed up before it is timed (scan and ceiling once per backend, onnx and
keras, in the same run):

  seed-style  for each file: keras.utils.load_img(path, target_size=(224, 224)) + mobilenet_v2
              preprocess_input + model.predict on one image (what the original notebook did)
  scan        app.core.scan.folder.scan_folder: the product's folder scan, CSV included (files decoded on a
              thread pool while the model runs on the previous batch)
  ceiling     the backend's `infer` on tensors preprocessed beforehand, batches of 32: what the
              model alone allows, with no decoding at all

and, on onnx, the two ways to use more cores (issue 15), timed from the call as a user would wait:

  --workers N     scan_folder with N decode processes (spawned, the model stays in this process)
  --dask local:N  a LocalCluster of N processes, each loading the model once (its load time is
                  reported per worker); the scan is timed after the workers are ready, and the
                  cluster's start-up separately

Goal (issue 12): scan on onnx >= 15x seed-style.

    python benchmarks/scan_throughput.py [--model resources/pneumoscan_mobilenetv2.keras]
        [--data /work/shared/data/originals] [--batch-size 16] [--workers 2] [--seed-limit N]
        [--backends onnx keras] [--processes 2] [--dask-workers 2]

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

from app.core.io.images import load_image  # noqa: E402
from app.core.resources import default_model_path  # noqa: E402
from app.core.scan.folder import ScanRequest, scan_folder  # noqa: E402
from app.core.io.listing import list_images  # noqa: E402

DEFAULT_DATA = Path(os.environ.get("PNEUMOSCAN_SHARED", REPO.parent / "shared")) / "data" / "originals"


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


def ceiling(screener, files: list[Path], repeats: int = 3) -> float:  # noqa: ANN001
    """Median seconds for batched inference on all files' tensors, preprocessed beforehand."""
    import numpy as np

    tensors = np.stack([screener.prepare(load_image(path)).tensor for path in files])
    screener.backend.infer(tensors[:32])  # warm-up (traced at construction; first run allocates)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        screener.backend.infer(tensors, chunk=32)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the bundled model, else random weights")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of X-rays (scanned recursively)")
    parser.add_argument("--batch-size", type=int, default=16, help="scan batch size (the CLI's default)")
    parser.add_argument("--workers", type=int, default=2, help="scan decoding threads (the engine's default)")
    parser.add_argument("--seed-limit", type=int, default=0, help="time the seed loop on the first N files only")
    parser.add_argument("--backends", nargs="+", choices=("onnx", "keras"), default=["onnx", "keras"])
    parser.add_argument("--processes", type=int, default=2, help="decode processes of the --workers row (0: no row)")
    parser.add_argument("--dask-workers", type=int, default=2, help="processes of the --dask local:N row (0: no row)")
    args = parser.parse_args(argv)

    if not args.data.is_dir():
        print(f"skipped: no data at {args.data} (set $PNEUMOSCAN_SHARED or --data)")
        return 0
    files = list_images(args.data, recursive=True)
    if not files:
        print(f"No images under {args.data}", file=sys.stderr)
        return 1
    for path in files:  # page cache warm for all three: decoding is measured, not the first disk read
        path.read_bytes()

    rates: dict[str, tuple[int, float]] = {}  # method -> (images, seconds)
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model or default_model_path()
        kind = "given" if args.model else "bundled"
        if not model_path.exists():
            if args.model:
                print(f"Model not found: {model_path}", file=sys.stderr)
                return 1
            model_path, kind = random_model(Path(tmp)), "random weights, product architecture"
        from app.core.screening import Screener

        print(f"model: {model_path} ({kind}); {len(files)} files from {args.data}; CPU cores: {os.cpu_count()}; "
              f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        warm = Path(tmp) / "warm"
        warm.mkdir()
        for path in files[: args.batch_size]:
            (warm / path.name).symlink_to(path)
        for backend in args.backends:
            screener = Screener(model_path, backend)
            # warm-up of the scan path: tracing, thread pool, a first batch through the CSV writer
            scan(screener, warm, args.batch_size, args.workers, Path(tmp) / "warm.csv")
            scan_s, scanned = scan(screener, args.data, args.batch_size, args.workers, Path(tmp) / "scan.csv")
            if scanned != len(files):
                print(f"warning: the scan finished {scanned} of {len(files)} files", file=sys.stderr)
            rates[f"scan_folder on {backend} (batch {args.batch_size}, {args.workers} workers, CSV)"] = (len(files), scan_s)
            rates[f"ceiling on {backend} (infer, batch 32, no decoding)"] = (len(files), ceiling(screener, files))
            if backend == "onnx" and args.processes:
                secs, scanned = scan(screener, args.data, args.batch_size, args.workers, Path(tmp) / "processes.csv",
                                     args.processes)
                rates[f"scan --workers {args.processes} on onnx (decode processes, spawn included)"] = (scanned, secs)
            del screener
        if "onnx" in args.backends and args.dask_workers:
            startup, secs, loads, scanned = dask_scan(model_path, args.data, args.batch_size, args.dask_workers,
                                                      Path(tmp) / "dask.csv")
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
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
