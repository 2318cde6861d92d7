"""Start-up and latency of the two backends, onnx and keras, measured in the same run.

* CLI cold start: `python -m app.cli predict SAMPLE --backend B` in a fresh process, spawn to exit.
* GUI model ready: `python -m app.ui.main --smoke-gui` ($PNEUMOSCAN_BACKEND=B, offscreen without a
  display), spawn to the line that reports the model loaded.
* predict / predict + Grad-CAM: `Screener.predict` and `Screener.explain` on a decoded sample, warm.
* whether the CLI process imported TensorFlow or Keras.

Goals (issue 12): CLI cold start <= 1.0 s and GUI model ready <= 1.5 s on onnx.

    python benchmarks/backends.py [--runs 5] [--repeats 50] [--image assets/samples/X.jpeg] [--model M]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BACKENDS = ("onnx", "keras")
HEAVY = ("tensorflow", "keras")


def _env(backend: str) -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PNEUMOSCAN_BACKEND": backend}
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def cli_cold_start(backend: str, image: Path, model: Path | None) -> tuple[float, bool]:
    """Seconds from spawn to exit of one `predict`, and whether it imported TensorFlow or Keras.

    Checked in `sys.modules` at exit: the CLI silences native stderr while the model loads, which would
    also swallow `-X importtime`'s report.
    """
    argv = ["predict", str(image), "--backend", backend] + (["--model", str(model)] if model else [])
    code = (f"import sys, app.cli\nrc = app.cli.main({argv!r})\n"
            f"print('HEAVY' if {{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r} else 'LIGHT')\nsys.exit(rc)")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env(backend), capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"predict on {backend} failed: {result.stderr.strip().splitlines()[-1:]}")
    return elapsed, "HEAVY" in result.stdout


def gui_model_ready(backend: str, model: Path | None) -> float:
    """Seconds from spawn to the smoke test's "model ... loaded" line."""
    command = [sys.executable, "-m", "app.ui.main", "--smoke-gui"] + (["--model", str(model)] if model else [])
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env=_env(backend), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready = None
    for line in process.stdout:  # type: ignore[union-attr]
        if ready is None and "smoke-gui: model" in line and "loaded" in line:
            ready = time.perf_counter() - start
    if process.wait(timeout=300) != 0 or ready is None:
        raise RuntimeError(f"--smoke-gui on {backend} failed")
    return ready


def warm_latency(backend: str, image: Path, model: Path | None, repeats: int) -> tuple[float, float]:
    """Median milliseconds of one prediction and of one prediction with Grad-CAM, after a warm-up."""
    from app.core.io.images import load_image
    from app.core.screening import Screener

    screener, loaded = Screener(model, backend), load_image(image)
    timings: dict[str, list[float]] = {"predict": [], "explain": []}
    for name, call in (("predict", screener.predict), ("explain", screener.explain)):
        call(loaded)
        for _ in range(repeats):
            start = time.perf_counter()
            call(loaded)
            timings[name].append(1000 * (time.perf_counter() - start))
    return statistics.median(timings["predict"]), statistics.median(timings["explain"])


def main(argv: list[str] | None = None) -> int:
    from app.core.resources import sample_images

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per cold-start figure")
    parser.add_argument("--repeats", type=int, default=50, help="warm calls per latency figure")
    parser.add_argument("--image", type=Path, default=None, help="default: the first bundled sample")
    parser.add_argument("--model", type=Path, default=None, help="default: the bundled model")
    args = parser.parse_args(argv)
    image = args.image or sample_images()[0]
    print(f"{image.name}; {os.cpu_count()} CPU cores; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    rows = []
    for backend in BACKENDS:
        starts = [cli_cold_start(backend, image, args.model) for _ in range(args.runs)]
        ready = [gui_model_ready(backend, args.model) for _ in range(args.runs)]
        predict_ms, explain_ms = warm_latency(backend, image, args.model, args.repeats)
        cold = [s for s, _ in starts]
        rows.append((backend, statistics.median(cold), min(cold), max(cold), statistics.median(ready),
                     predict_ms, explain_ms, any(heavy for _, heavy in starts)))
    print(f"\n{'backend':<8} {'CLI cold start s (median, min-max)':>36} {'GUI model ready s':>18} "
          f"{'predict ms':>11} {'+Grad-CAM ms':>13} {'imports TF/Keras':>17}")
    for backend, median, low, high, ready, predict_ms, explain_ms, heavy in rows:
        print(f"{backend:<8} {f'{median:.2f} ({low:.2f}-{high:.2f})':>36} {ready:>18.2f} {predict_ms:>11.1f} "
              f"{explain_ms:>13.1f} {'yes' if heavy else 'no':>17}")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
