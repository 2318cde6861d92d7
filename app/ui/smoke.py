"""`--smoke-gui`: open the main window briefly, show one sample's result, close; report the timings.

It lives with the GUI so that `app.selftest` stays headless (it never imports Qt); `app.ui.main`
hands the flag here before any window exists, and so does the packaged launcher through it.
From source: `python -m app.ui.smoke [--model PATH] [--timeout S]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, Sequence

from app.selftest import _T0, _print, expected_label

FLAG = "--smoke-gui"


def smoke_gui(model_path: Path | None = None, timeout_s: float = 180.0, out: Callable[[str], None] = _print) -> int:
    """Open the main window (offscreen without a display), open one sample, wait for its result, close.

    Prints a line as each step a user waits for happens (window shown, model loaded, first prediction
    shown), timed from the start of the process (benchmarks/bundle.py time-stamps these lines).
    Settings go to a temporary INI file, so the user's own settings are neither read nor changed.
    """
    import tempfile

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from app.core.numbers import probability_text
    from app.core.resources import sample_images
    from app.ui.window import MainWindow

    def since_start() -> str:
        return f"{time.perf_counter() - _T0:.2f} s after start"

    samples = [p for p in sample_images() if expected_label(p)]
    state: dict[str, object] = {}
    qapp = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "PneumoScan"])
    with tempfile.TemporaryDirectory(prefix="pneumoscan-smoke-") as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(model_path=model_path, settings=settings)

        def on_loaded(card: object) -> None:
            out(f"ok    smoke-gui: model {getattr(card, 'version', '?')} loaded ({since_start()})")

        loop = QEventLoop()  # a local loop: quitting it never touches an event loop the caller runs
        deadline = QTimer()
        deadline.setSingleShot(True)
        deadline.timeout.connect(loop.quit)

        def on_prediction(prediction: object) -> None:
            if "prediction" not in state:
                state["prediction"] = prediction
                out(f"ok    smoke-gui: first prediction shown, {samples[0].name}: {getattr(prediction, 'label', '?')} "
                    f"p(pneumonia) {probability_text(getattr(prediction, 'probability', float('nan')))} ({since_start()})")
            loop.quit()

        def on_error(message: str) -> None:
            state.setdefault("error", message)
            loop.quit()

        window.engine.model_loaded.connect(on_loaded)
        window.prediction_shown.connect(on_prediction)
        window.error_shown.connect(on_error)
        window.show()  # then open the sample at once, as app.ui.main does with a file argument
        out(f"ok    smoke-gui: window shown on the {qapp.platformName()} platform ({since_start()})")
        if samples:
            window.open_paths([samples[0]])
            deadline.start(int(timeout_s * 1000))
            loop.exec()
            deadline.stop()
        for signal, slot in ((window.engine.model_loaded, on_loaded), (window.prediction_shown, on_prediction),
                             (window.error_shown, on_error)):
            signal.disconnect(slot)
        window.close()
        window.shutdown()
        settings.sync()
        del window
    if "error" in state:
        out(f"FAIL  smoke-gui: the window reported: {state['error']}")
        return 1
    if "prediction" not in state:
        what = "no sample image in assets/samples" if not samples else f"no prediction within {timeout_s:.0f} s"
        out(f"FAIL  smoke-gui: {what}")
        return 1
    out(f"smoke-gui PASSED ({since_start()})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`--smoke-gui [--model PATH] [--timeout S]`; returns the exit status."""
    parser = argparse.ArgumentParser(prog="PneumoScan --smoke-gui", description=__doc__.splitlines()[0])
    parser.add_argument(FLAG, action="store_true", help="open the main window briefly and close it")
    parser.add_argument("--model", type=Path, default=None, help="check this .keras model instead of the bundled one")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the first result")
    args, _unknown = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return smoke_gui(args.model, args.timeout)
    except Exception as exc:  # noqa: BLE001 - any failure is a failed smoke test, reported as one
        _print(f"FAIL  smoke-gui: {exc.__class__.__name__}: {exc}")
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
