"""`pneumoscan [FILE] [--model PATH]`: the desktop app. `--self-test` and `--version` go to `app.selftest`,
`--smoke-gui` to `app.ui.smoke`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from app.core.model.backend import BACKEND_NAMES
from app.ui.system_libraries import debian_package, missing_xcb_libraries

DELEGATED = ("--self-test", "--version")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pneumoscan",
        description="Screen chest X-rays for pneumonia (research tool, not a medical device).")
    parser.add_argument("file", nargs="?", type=Path, help="an X-ray image to open")
    parser.add_argument("--model", type=Path, default=None,
                        help="a .keras or .onnx model with model_card.json beside it (default: the bundled model)")
    parser.add_argument("--backend", choices=BACKEND_NAMES, default=None,
                        help="run the model on ONNX Runtime or TensorFlow/Keras (default: onnx when exported)")
    parser.add_argument("--self-test", action="store_true", help="check the installation and exit")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    return parser


NON_DISPLAY_PLATFORMS = ("offscreen", "minimal", "minimalegl", "vnc", "eglfs", "linuxfb")


def display_problem(env: Mapping[str, str] = os.environ, platform: str = sys.platform,
                    missing: Callable[[], list[str]] = missing_xcb_libraries) -> str:
    """Why Qt would abort at start-up here (it exits 134 with a plugin error), in one line; "" when it can start.

    `missing()`: the system libraries Qt's X11 plugin lacks (`app.ui.system_libraries`).
    """
    requested = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if requested in NON_DISPLAY_PLATFORMS or not platform.startswith("linux"):
        return ""
    wayland = bool(env.get("WAYLAND_DISPLAY")) and requested in ("", "wayland")
    if not wayland and not env.get("DISPLAY"):
        return ("no display found (neither DISPLAY nor WAYLAND_DISPLAY is set); run it in a desktop session, "
                "or use pneumoscan-cli on the command line.")
    lacking = [] if wayland else missing()
    if lacking:
        return (f"Qt's X11 (xcb) platform needs system libraries that are not installed: {', '.join(lacking)} "
                f"(Debian/Ubuntu: sudo apt-get install {' '.join(dict.fromkeys(map(debian_package, lacking)))}; "
                "the README lists every package); or use pneumoscan-cli.")
    return ""


def _install_excepthook(window_ref: list) -> None:
    """An unexpected exception in a slot goes to stderr and the status bar, never a dead window."""
    import traceback

    previous = sys.excepthook

    def hook(kind, value, tb):  # noqa: ANN001
        traceback.print_exception(kind, value, tb)
        if window_ref and window_ref[0] is not None:
            try:
                window_ref[0].statusBar().showMessage(f"Unexpected error ({kind.__name__}): {value}", 15000)
            except Exception:  # noqa: BLE001
                previous(kind, value, tb)

    sys.excepthook = hook


def _quit_on_signals(app, window) -> None:  # noqa: ANN001
    """Ctrl+C in the terminal or SIGTERM closes the window properly (settings saved, scan CSV closed)."""
    import signal

    from PySide6.QtCore import QTimer

    def close(*_args: object) -> None:
        window.close()
        app.quit()

    for name in ("SIGINT", "SIGTERM"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), close)
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)  # lets the interpreter run its signal handlers while Qt waits
    timer.start(250)


def launch(argv: list[str], started: float | None = None):  # noqa: ANN201 - (QApplication, MainWindow)
    """Create the application and show the window; the model loads in the background."""
    started = time.perf_counter() if started is None else started
    args, qt_args = build_parser().parse_known_args(argv)

    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    from app import __version__
    from app.ui.window import APPLICATION, ORGANISATION, MainWindow

    QCoreApplication.setOrganizationName(ORGANISATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setStyle("Fusion")
    if args.backend:  # the model loads on the engine's thread, which reads it like $PNEUMOSCAN_MODEL
        from app.core.model.backend import BACKEND_ENV

        os.environ[BACKEND_ENV] = args.backend
    window = MainWindow(model_path=args.model)
    window.show()
    window.open_initial(args.file)
    window.statusBar().showMessage(f"Window ready in {time.perf_counter() - started:.1f} s", 5000)
    return app, window


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--smoke-gui" in argv:  # the GUI's own check, with its own QApplication
        from app.ui import smoke

        return smoke.main(argv)
    if any(flag in argv for flag in DELEGATED):  # before any QApplication exists
        from app import selftest

        return int(selftest.main(argv) or 0)
    build_parser().parse_known_args(argv)  # --help and a bad option answer here, with or without a display
    problem = display_problem()
    if problem:  # before Qt, which would abort the process with a plugin error
        print(f"pneumoscan: {problem}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    window_ref: list = [None]
    _install_excepthook(window_ref)
    app, window = launch(argv, started)
    window_ref[0] = window
    _quit_on_signals(app, window)
    code = app.exec()
    window.shutdown()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
