"""GUI latency: launch -> window shown -> model ready, and drop of a full-resolution X-ray -> result on screen.

    python benchmarks/gui_latency.py [--model PATH] [--runs 9] [--compare-with TREE [--rounds 3]] [IMAGE ...]

Start-up is measured in a fresh process (the app's own `launch`), from before the interpreter starts
to the window's first paint, to the model loaded and verified, and to the model warm (graphs traced).
Latency is measured warm, in this process: the image is dropped on the window (the drop handler)
and the clock stops when the probability, the label and the Grad-CAM overlay have been painted.
Goals: drop -> result <= 100 ms, launch -> window <= 2 s, launch -> model ready <= 6 s.
`--compare-with TREE` (e.g. a `git worktree` of an earlier commit) measures the drop latency of that
tree's app and of this one in alternating fresh processes, same images, same load, and prints them side
by side: on a shared machine only such a comparison says whether a change helped.
View changes (CLAHE toggle, Grad-CAM toggle, opacity step) are timed on the GUI thread for the
largest image, repaint included, beside the baseline of recomposing the view at full resolution
on every change (the engine's `apply_clahe` + `overlay`, converted to a pixmap), which the viewer's
ready layers replace.
Runs offscreen unless a display is set. Without --model it uses the bundled model.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TREE = Path(os.environ.get("PNEUMOSCAN_BENCH_TREE", REPO))  # the app measured: this checkout or --compare-with's
sys.path.insert(0, str(TREE))
if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GOALS = {"drop_to_result_ms": 100.0, "launch_to_window_s": 2.0, "launch_to_model_ready_s": 6.0}


def _temporary_settings():  # noqa: ANN202
    import tempfile

    from PySide6.QtCore import QSettings

    folder = tempfile.mkdtemp(prefix="pneumoscan-bench-")
    return QSettings(os.path.join(folder, "PneumoScan.ini"), QSettings.Format.IniFormat)


def child_startup(model: str | None) -> None:
    """Runs in the fresh process: the app's own launch path, timestamps relative to the parent's clock."""
    t0 = float(os.environ["PNEUMOSCAN_BENCH_T0"])
    from PySide6.QtCore import QEvent, QObject, QTimer

    import app.ui.window as window_module

    window_module.default_settings = _temporary_settings  # leave the user's settings alone
    from app.ui.main import launch

    marks: dict[str, float] = {"imports_done_s": time.time() - t0}

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):  # noqa: ANN001, ANN201, N802
            if event.type() == QEvent.Type.Paint and "window_shown_s" not in marks:
                marks["window_shown_s"] = time.time() - t0
            return False

    argv = ["--model", model] if model else []
    # the window's widgets exist only inside launch(), so watch every paint of the application
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    watcher = FirstPaint()
    app.installEventFilter(watcher)
    app, window = launch(argv)
    window.engine.model_loaded.connect(lambda _c: marks.setdefault("model_ready_s", time.time() - t0))
    window.engine.model_failed.connect(lambda m: (marks.setdefault("error", m), app.quit()))

    def warmed() -> None:
        marks["model_warm_s"] = time.time() - t0
        QTimer.singleShot(0, app.quit)

    window.engine.warmed_up.connect(warmed)
    QTimer.singleShot(120_000, app.quit)
    app.exec()
    window.shutdown()
    print("STARTUP " + json.dumps(marks), flush=True)


def measure_startup(model: str | None) -> dict[str, float]:
    env = dict(os.environ, PNEUMOSCAN_BENCH_T0=repr(time.time()))
    command = [sys.executable, str(Path(__file__).resolve()), "--child-startup"] + (["--model", model] if model else [])
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    for line in result.stdout.splitlines():
        if line.startswith("STARTUP "):
            return json.loads(line[len("STARTUP "):])
    raise RuntimeError(f"start-up child failed:\n{result.stdout}\n{result.stderr[-3000:]}")


def measure_latency(model: str | None, images: list[Path], runs: int, view_changes: bool = True) -> dict[str, list[float]]:
    from PySide6.QtWidgets import QApplication

    from app.ui.window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setStyle("Fusion")
    window = MainWindow(model_path=model, settings=_temporary_settings())
    window.resize(1500, 950)
    window.show()
    window.commands.gradcam.setChecked(True)
    state = {"warm": False}
    window.engine.warmed_up.connect(lambda: state.update(warm=True))
    deadline = time.monotonic() + 180
    while not state["warm"] and window.engine.error is None and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    if window.engine.error:
        raise SystemExit(f"model failed to load: {window.engine.error}")

    times: dict[str, list[float]] = {"drop_to_image_ms": [], "drop_to_result_ms": []}
    warmup = 2
    for i in range(runs + warmup):
        path = images[i % len(images)]
        marks: dict[str, float] = {}

        def image_shown(_p: str) -> None:
            window.viewer.viewport().repaint()
            marks.setdefault("image", time.perf_counter())

        def result_shown(_p: object) -> None:
            window.repaint()  # panel and overlay painted now, synchronously
            marks.setdefault("result", time.perf_counter())

        window.image_shown.connect(image_shown)
        window.prediction_shown.connect(result_shown)
        start = time.perf_counter()
        window.handle_dropped([path])  # what dropEvent does with the dropped file
        while "result" not in marks and time.perf_counter() - start < 60:
            app.processEvents()
            time.sleep(0.0005)
        window.image_shown.disconnect(image_shown)
        window.prediction_shown.disconnect(result_shown)
        if "result" not in marks:
            raise SystemExit(f"no result for {path} within 60 s")
        if i >= warmup:
            times["drop_to_image_ms"].append((marks["image"] - start) * 1000)
            times["drop_to_result_ms"].append((marks["result"] - start) * 1000)
        if window.explanation is None or window.explanation.heatmap.shape != window.image.pixels.shape:
            raise SystemExit("the result on screen does not belong to the dropped image")
    if view_changes:
        times.update(measure_view_changes(window, max(images, key=_pixel_count), runs))
    window.close()
    return times


def _pixel_count(path: Path) -> int:
    from app.core.io.images import load_image

    image = load_image(path)
    return image.width * image.height


def measure_view_changes(window, path: Path, runs: int) -> dict[str, list[float]]:  # noqa: ANN001
    """GUI-thread time of each view change on `path` (the window shows it warm), repaint included."""
    from PySide6.QtGui import QPixmap
    from PySide6.QtWidgets import QApplication

    from app.core.explain.gradcam import overlay
    from app.core.io.preprocessing import apply_clahe
    from app.ui.imaging import rgb_to_qimage

    app = QApplication.instance()
    done: dict[str, bool] = {}
    window.prediction_shown.connect(lambda _p: done.update(result=True))
    window.handle_dropped([path])
    while not done:
        app.processEvents()
        time.sleep(0.001)
    window.commands.gradcam.setChecked(True)
    changes = {
        "clahe_toggle_ms": window.commands.clahe.toggle,
        "gradcam_toggle_ms": window.commands.gradcam.toggle,
        "opacity_step_ms": lambda: window.panel.set_opacity(0.3 if window.panel.opacity > 0.45 else 0.6),
    }
    times: dict[str, list[float]] = {key: [] for key in changes}
    times["baseline_recompose_ms"] = []
    pixels, heatmap = window.image.pixels, window.explanation.heatmap
    for _ in range(runs):
        for key, change in changes.items():
            start = time.perf_counter()
            change()
            window.viewer.viewport().repaint()
            times[key].append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        QPixmap.fromImage(rgb_to_qimage(overlay(apply_clahe(pixels, 2.0, 8), heatmap, 0.5)))
        times["baseline_recompose_ms"].append((time.perf_counter() - start) * 1000)
    times["view_image"] = [float(pixels.shape[1]), float(pixels.shape[0])]
    return times


def child_latency(model: str | None, images: list[Path], runs: int) -> None:
    """Runs in a fresh process on $PNEUMOSCAN_BENCH_TREE's app: the drop latencies as one JSON line."""
    times = measure_latency(model, images, runs, view_changes=False)
    print("LATENCY " + json.dumps(times), flush=True)


def compare(tree: Path, model: str | None, images: list[Path], runs: int, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Drop latencies of `tree`'s app and this one, alternating fresh processes `rounds` times."""
    results: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    for _ in range(rounds):
        for name, root in (("before", tree), ("after", REPO)):
            env = dict(os.environ, PNEUMOSCAN_BENCH_TREE=str(root))
            command = [sys.executable, str(Path(__file__).resolve()), "--child-latency", "--runs", str(runs),
                       *(["--model", model] if model else []), *(str(p.resolve()) for p in images)]
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=root)
            line = next((out for out in result.stdout.splitlines() if out.startswith("LATENCY ")), None)
            if line is None:
                raise RuntimeError(f"latency child ({root}) failed:\n{result.stdout}\n{result.stderr[-3000:]}")
            for key, values in json.loads(line[len("LATENCY "):]).items():
                results[name].setdefault(key, []).extend(values)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="*", type=Path, help="full-resolution X-rays (default: the bundled samples)")
    parser.add_argument("--model", default=None, help="model path (default: the bundled model)")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--compare-with", type=Path, default=None, metavar="TREE",
                        help="also measure the drop latency of the app in TREE (e.g. a git worktree of an earlier commit)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating fresh processes per tree with --compare-with")
    parser.add_argument("--child-startup", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-latency", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--skip-startup", action="store_true")
    args = parser.parse_args()
    if args.child_startup:
        child_startup(args.model)
        return 0
    from app.core.resources import default_model_path, sample_images

    if args.child_latency:
        child_latency(args.model, args.images or sample_images(), args.runs)
        return 0

    model = args.model
    if model is None and not default_model_path().exists():
        raise SystemExit("No bundled model in resources/ yet: pass --model PATH.")
    images = args.images or sample_images()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"PneumoScan GUI latency  ({os.cpu_count()} CPUs, load average {load:.1f}, "
          f"platform {os.environ.get('QT_QPA_PLATFORM', 'native')})")
    print(f"model: {model or default_model_path()}")

    if not args.skip_startup:
        startup = measure_startup(model)
        if "error" in startup:
            raise SystemExit(f"model failed to load: {startup['error']}")
        print("\nStart-up (fresh process, from spawning the interpreter):")
        print(f"  imports done            {startup['imports_done_s']:6.2f} s")
        shown, ready = startup["window_shown_s"], startup["model_ready_s"]
        print(f"  window shown (painted)  {shown:6.2f} s   goal <= {GOALS['launch_to_window_s']:.0f} s"
              f"  {'OK' if shown <= GOALS['launch_to_window_s'] else 'MISSED'}")
        print(f"  model ready (verified)  {ready:6.2f} s   goal <= {GOALS['launch_to_model_ready_s']:.0f} s"
              f"  {'OK' if ready <= GOALS['launch_to_model_ready_s'] else 'MISSED'}")
        print(f"  model warm (traced)     {startup['model_warm_s']:6.2f} s")

    times = measure_latency(model, images, args.runs)
    sizes = []
    from app.core.io.images import load_image

    for path in images:
        image = load_image(path)
        sizes.append(f"{path.name} {image.width}x{image.height}")
    print(f"\nDrop -> on screen, warm, {args.runs} runs over {len(images)} images ({'; '.join(sizes)}):")
    for key, label in (("drop_to_image_ms", "image pixels"), ("drop_to_result_ms", "probability + Grad-CAM")):
        values = times[key]
        median = statistics.median(values)
        goal = "" if key != "drop_to_result_ms" else (
            f"   goal <= {GOALS[key]:.0f} ms  {'OK' if median <= GOALS[key] else 'MISSED'}")
        print(f"  {label:24s} median {median:6.0f} ms  (min {min(values):.0f}, max {max(values):.0f}){goal}")
    if args.compare_with:
        both = compare(args.compare_with, model, images, args.runs, args.rounds)
        print(f"\nDrop -> on screen, {args.compare_with} (before) and this checkout (after), {args.rounds} alternating "
              f"fresh processes of {args.runs} runs each:")
        print(f"  {'':24s} {'before':>16s} {'after':>16s}")
        for key, label in (("drop_to_image_ms", "image pixels"), ("drop_to_result_ms", "probability + Grad-CAM")):
            medians = [statistics.median(both[name][key]) for name in ("before", "after")]
            print(f"  {label:24s} {medians[0]:13.0f} ms {medians[1]:13.0f} ms")
    width, height = (int(v) for v in times["view_image"])
    baseline = statistics.median(times["baseline_recompose_ms"])
    print(f"\nView changes on the GUI thread, {width}x{height}, repaint included (median of {args.runs}):")
    print(f"  {'change':18s} {'ready layers':>12s} {'baseline: recompose':>21s}")
    for key, label in (("clahe_toggle_ms", "CLAHE toggle"), ("gradcam_toggle_ms", "Grad-CAM toggle"),
                       ("opacity_step_ms", "opacity step")):
        print(f"  {label:18s} {statistics.median(times[key]):9.1f} ms {baseline:18.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
