"""`--version` and `--self-test`: headless checks a user (or CI) can run on the installed app.

The GUI's entry point and the packaged launcher hand these flags here before any Qt object exists, so
the checks run headless, from a source checkout and from the PyInstaller bundle alike:

* `--version`     app version and the bundled model's name and version, read from the model card's JSON
                  (no TensorFlow import, so it answers in a fraction of a second).
* `--self-test`   loads the bundled model through `Screener` (which verifies its sha256 against the model
                  card), predicts every sample in assets/samples and compares the label with the one the
                  file name starts with, computes one Grad-CAM and checks it is a finite [0, 1] map of the
                  image's size; prints a report with timings and exits 0, or says what failed and exits 1.
* `--smoke-gui` is the GUI's own check (`app.ui.smoke`): this module never imports Qt or `app.ui`.

`--model PATH` checks another model instead of the bundled one ($PNEUMOSCAN_MODEL works too);
`--backend onnx|keras` picks the runtime (default: ONNX Runtime when the model has an ONNX export).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from app import __version__
from app.core.labels import CLASSES, POSITIVE
from app.core.model.backend import BACKEND_NAMES
from app.core.model.entries import CARD_NAME

_T0 = time.perf_counter()  # import of this module: the closest to process start that works everywhere


@dataclass
class Report:
    """What the self-test found; `failures` empty means it passed."""

    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def say(self, text: str, out: Callable[[str], None]) -> None:
        self.lines.append(text)
        out(text)

    def fail(self, text: str, out: Callable[[str], None]) -> None:
        self.failures.append(text)
        self.say(f"FAIL  {text}", out)

    @property
    def passed(self) -> bool:
        return not self.failures


def _print(text: str) -> None:
    print(text, flush=True)  # flushed line by line so a benchmark can time-stamp each step


def expected_label(path: Path) -> str | None:
    """The label a sample's file name starts with (NORMAL_... or PNEUMONIA_...), or None."""
    prefix = path.name.split("_", 1)[0].upper()
    return prefix if prefix in CLASSES else None


def read_model_card_json(model_path: Path) -> dict:
    """The model card beside `model_path` as plain JSON (no NumPy, no OpenCV, no sha256 check)."""
    return json.loads((Path(model_path).parent / CARD_NAME).read_text(encoding="utf-8-sig"))  # -sig: an editor's BOM


def version_text(model_path: Path | None = None, one_line: bool = False) -> str:
    """The app's and the model's versions from the card alone (nothing loaded): `--version` of the GUI and the
    self-test (several lines), and with `one_line` of `pneumoscan-cli` (with the sha256 prefix)."""
    from app.core.model.backend import file_that_runs
    from app.core.resources import default_model_path

    model_path = Path(model_path) if model_path else default_model_path()
    lines = [f"PneumoScan {__version__}"]
    try:
        card = read_model_card_json(model_path)
        model_file = card["model_file"] if one_line else card.get("model_file") or model_path.name
        runs = file_that_runs(model_path, (card.get("onnx") or {}).get("file"), model_file)
        if one_line:
            return f"PneumoScan {__version__}, model {card['name']} {card['version']} (sha256 {str(card['sha256'])[:12]}), runs {runs.name}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if one_line:
            return f"PneumoScan {__version__}, model unavailable ({model_path.parent / CARD_NAME}: {exc.__class__.__name__})"
        lines.append(f"model: unavailable ({model_path}: {exc.__class__.__name__})")
    else:
        name, version = card.get("name", "?"), card.get("version", "?")
        created = f", created {card['created']}" if card.get("created") else ""
        lines.append(f"model: {name} {version} (runs {runs.name}{created})")
    lines.append(f"Python {sys.version.split()[0]}{' (bundled)' if getattr(sys, 'frozen', False) else ''}")
    return "\n".join(lines)


def run_self_test(model_path: Path | None = None, out: Callable[[str], None] = _print, backend: str | None = None) -> Report:
    """The checks behind `--self-test`; never raises, every problem ends up in `Report.failures`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    report = Report()
    start = time.perf_counter()
    try:
        _self_test(report, model_path, out, backend)
    except Exception as exc:  # noqa: BLE001 - an unexpected error is a failed self-test, never a crash without a report
        report.fail(f"unexpected error: {exc.__class__.__name__}: {exc}", out)
        for line in traceback.format_exc().rstrip().splitlines():
            report.say(f"      {line}", out)
    report.timings["total_s"] = time.perf_counter() - start
    verdict = "PASSED" if report.passed else f"FAILED ({len(report.failures)} problem{'s' * (len(report.failures) > 1)})"
    report.say(f"self-test {verdict} in {report.timings['total_s']:.2f} s", out)
    return report


def _self_test(report: Report, model_path: Path | None, out: Callable[[str], None], backend: str | None) -> None:
    import numpy as np

    from app.core.errors import PneumoScanError
    from app.core.io.images import load_image, load_model_image
    from app.core.numbers import probability_text, threshold_text
    from app.core.resources import default_model_path, sample_images

    model_path = Path(model_path) if model_path else default_model_path()
    report.say(f"PneumoScan {__version__} self-test{' (bundled)' if getattr(sys, 'frozen', False) else ''}", out)
    report.say(f"model:   {model_path}", out)

    t = time.perf_counter()
    try:
        from app.core.model.bundle import ModelBundle
        from app.core.screening import Screener

        bundle = ModelBundle.open(model_path, backend)  # the card, and the sha256 of every file it runs, before loading
        screener = Screener(bundle)
    except PneumoScanError as exc:
        report.fail(f"model: {exc}", out)
        return
    report.timings["model_load_s"] = time.perf_counter() - t
    card = screener.card
    gate = "scope check on" if screener.scope is not None else "no scope check"
    sha256 = bundle.runs_sha256
    report.say(f"ok    model {card.name} {card.version} loaded, sha256 {sha256[:12]}… matches its card, "
               f"{gate}, {screener.backend.name} backend ({report.timings['model_load_s']:.2f} s)", out)

    try:
        samples = sample_images()
    except OSError as exc:
        report.fail(f"samples: cannot list assets/samples ({exc})", out)
        return
    samples = [p for p in samples if expected_label(p)]
    if not {expected_label(p) for p in samples} >= set(CLASSES):
        report.fail(f"samples: need at least one NORMAL_* and one PNEUMONIA_* image, found {[p.name for p in samples]}", out)
        if not samples:
            return

    times: list[float] = []
    for path in samples:
        t = time.perf_counter()
        try:
            prediction = screener.predict(load_model_image(path, screener.card.input_size))  # as predict scores it
        except PneumoScanError as exc:
            report.fail(f"{path.name}: {exc}", out)
            continue
        times.append(time.perf_counter() - t)
        if len(times) == 1:
            report.timings["first_prediction_s"] = times[0]
            report.timings["first_prediction_since_start_s"] = time.perf_counter() - _T0
        expected = expected_label(path)
        domain = "" if prediction.in_domain else f"  (warning: {prediction.scope})"
        detail = (f"p(pneumonia) {probability_text(prediction.probability)}, threshold {threshold_text(prediction.threshold)}, "
                  f"{times[-1] * 1000:.0f} ms")
        if prediction.label == expected:
            report.say(f"ok    {path.name}: {prediction.label} ({detail}){domain}", out)
        else:
            report.fail(f"{path.name}: predicted {prediction.label}, expected {expected} ({detail})", out)
    if len(times) > 1:
        report.timings["prediction_warm_ms"] = 1000 * float(np.mean(times[1:]))

    target = next((p for p in samples if expected_label(p) == POSITIVE), samples[0])
    t = time.perf_counter()
    try:
        image = load_image(target)
        explanation = screener.explain(image)
    except PneumoScanError as exc:
        report.fail(f"Grad-CAM on {target.name}: {exc}", out)
        return
    report.timings["gradcam_s"] = time.perf_counter() - t
    heatmap = np.asarray(explanation.heatmap)
    problems = []
    if heatmap.shape != image.pixels.shape:
        problems.append(f"shape {heatmap.shape} instead of the image's {image.pixels.shape}")
    if not np.all(np.isfinite(heatmap)):
        problems.append("non-finite values")
    elif heatmap.size and (heatmap.min() < 0 or heatmap.max() > 1):
        problems.append(f"values outside [0, 1] ({heatmap.min():.3g} .. {heatmap.max():.3g})")
    if problems:
        report.fail(f"Grad-CAM on {target.name}: {'; '.join(problems)}", out)
    else:
        empty = ", empty map" if explanation.empty else ""
        report.say(f"ok    Grad-CAM on {target.name}: {heatmap.shape[1]} x {heatmap.shape[0]} map in [0, 1]{empty} "
                   f"({report.timings['gradcam_s']:.2f} s)", out)
    summary = ", ".join(f"{k} {v:.2f}" for k, v in report.timings.items() if k != "total_s")
    report.say(f"timings: {summary}", out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="PneumoScan", add_help=False,
                                     description="PneumoScan checks (the GUI starts without these options).")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--version", action="store_true", help="print the app and model versions")
    group.add_argument("--self-test", action="store_true", help="headless check of model, samples and Grad-CAM")
    parser.add_argument("--model", type=Path, default=None, help="check this .keras model instead of the bundled one")
    parser.add_argument("--backend", choices=BACKEND_NAMES, default=None,
                        help="--self-test on this backend (default: onnx when the model is exported)")
    return parser


FLAGS = ("--version", "--self-test")


def wants_selftest(argv: Sequence[str]) -> bool:
    """True when `argv` asks for one of this module's checks (the GUI and the launcher ask before Qt starts)."""
    return any(arg in FLAGS for arg in argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; `argv` without the program name (default `sys.argv[1:]`). Returns the exit status."""
    args, _unknown = build_parser().parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if args.version:
        _print(version_text(args.model))
        return 0
    if args.self_test:
        return 0 if run_self_test(args.model, backend=args.backend).passed else 1
    _print("usage: PneumoScan [--version | --self-test] [--model PATH]")
    return 2


if __name__ == "__main__":
    sys.exit(main())
