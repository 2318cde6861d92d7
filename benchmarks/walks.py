"""The product's main paths walked and counted: how many of our functions and files one result passes through,
and which files it opens or hashes more than once.

    python benchmarks/walks.py [--model PATH] [--image FILE] [--walk scan|gui|all]

* `scan`: `pneumoscan-cli scan` of a folder holding one X-ray -> its CSV row (in this process, like the command).
* `gui`: the window with the model ready, then one dropped X-ray -> probability and Grad-CAM on screen.

A *stop* is one of the app's functions (or methods) called at least once on the path; *files* are the app's
modules those stops live in. Calls are counted on every Python thread and on the GUI's worker threads.
Reads are the `open` audit events of the interpreter (every thread); hashes are sha256 objects and the bytes
they were fed. A review of issue 21 counted the scan walk by hand at ~34 stops in 16 files, with the card
read and the 10 MB `.keras` hashed twice; this script counts the same walk mechanically, so figures before
and after a change come from one rule.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
SAMPLE = REPO / "assets" / "samples" / "PNEUMONIA_person1003_virus_1685.jpeg"
OURS = (str(REPO / "app"), str(REPO / "model_training"))


class Walk:
    """Counts our functions called, files opened and bytes hashed while `recording` is on."""

    def __init__(self) -> None:
        self.recording = False
        self.stops: collections.Counter[str] = collections.Counter()
        self.opens: collections.Counter[str] = collections.Counter()
        self.hashed: collections.Counter[int] = collections.Counter()
        self.lock = threading.Lock()

    def profile(self, frame: Any, event: str, _arg: Any) -> None:
        if event != "call" or not self.recording:
            return
        code = frame.f_code
        if code.co_filename.startswith(OURS) and not code.co_name.startswith("<"):
            with self.lock:
                self.stops[f"{os.path.relpath(code.co_filename, REPO)}:{code.co_qualname}"] += 1

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and self.recording and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.fsdecode(args[0])
            if not path.startswith(("/proc", "/sys", "/dev")) and not path.endswith((".py", ".pyc", ".so")):
                with self.lock:
                    self.opens[path] += 1

    def install(self) -> None:
        sys.addaudithook(self.audit)
        sys.setprofile(self.profile)
        threading.setprofile(self.profile)
        original = hashlib.sha256
        walk = self

        class CountingSha256:
            def __init__(self, data: bytes = b"", **kwargs: Any) -> None:
                self._hash = original(**kwargs)
                self._fed = 0
                self.update(data)
                if walk.recording:
                    with walk.lock:
                        walk.hashed[id(self)] = 0

            def update(self, data: bytes) -> None:
                self._hash.update(data)
                if walk.recording and id(self) in walk.hashed:
                    with walk.lock:
                        walk.hashed[id(self)] += len(data)

            def __getattr__(self, name: str) -> Any:
                return getattr(self._hash, name)

        hashlib.sha256 = CountingSha256  # type: ignore[assignment,misc]

    def report(self, title: str) -> None:
        files = {stop.split(":")[0] for stop in self.stops}
        print(f"\n== {title}: {len(self.stops)} stops in {len(files)} files, {sum(self.stops.values())} calls")
        for path, n in sorted(self.opens.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"   opened {n}x  {os.path.relpath(path, REPO) if path.startswith(str(REPO)) else path}")
        big = [n for n in self.hashed.values() if n > 1 << 20]
        print(f"   sha256: {len(self.hashed)} digests, {sum(self.hashed.values()) / 2**20:.1f} MiB hashed"
              f" ({len(big)} of them over 1 MiB)")
        print("   files: " + ", ".join(sorted(files)))


def thread_profiled(walk: Walk) -> Callable[[], None]:
    """Install the profiler in the GUI's worker threads too: QThreads and QRunnables are not Python threads."""
    from PySide6.QtCore import QRunnable, QThread

    def subclasses(base: type) -> list[type]:
        found = [base]
        for sub in base.__subclasses__():
            found += subclasses(sub)
        return found

    saved = []
    for cls in subclasses(QThread) + subclasses(QRunnable):
        if "run" in vars(cls):
            run = vars(cls)["run"]

            def profiled_run(self: Any, _run: Any = run) -> None:
                sys.setprofile(walk.profile)
                _run(self)

            saved.append((cls, run))
            cls.run = profiled_run  # type: ignore[attr-defined]
    return lambda: [setattr(cls, "run", run) for cls, run in saved] and None


def walk_scan(walk: Walk, model: str | None, image: Path) -> None:
    from app.cli import main as cli_main

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "in").mkdir()
        target = Path(folder) / "in" / image.name
        target.write_bytes(image.read_bytes())
        argv = ["scan", str(target.parent), "--out", str(Path(folder) / "out.csv")] + (["--model", model] if model else [])
        walk.recording = True
        code = cli_main(argv)
        walk.recording = False
        if code != 0:
            raise SystemExit(f"the scan failed (exit {code})")
    walk.report(f"CLI scan -> CSV row ({image.name})")


def walk_gui(walk: Walk, model: str | None, image: Path) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.ui.window import MainWindow

    import app.ui.worker  # noqa: F401  the worker classes, defined before they are patched

    restore = thread_profiled(walk)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    settings = QSettings(os.path.join(tempfile.mkdtemp(prefix="pneumoscan-walk-"), "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(model_path=model, settings=settings)
    window.show()
    shown: list[object] = []
    warm: list[bool] = []
    window.prediction_shown.connect(shown.append)
    window.engine.warmed_up.connect(lambda: warm.append(True))
    deadline = time.monotonic() + 120
    while not warm and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    walk.recording = True
    window.handle_dropped([image])
    while not shown and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.001)
    walk.recording = False
    window.close()
    restore()
    if not shown:
        raise SystemExit("no result on screen within the time allowed")
    walk.report(f"GUI drop -> probability and Grad-CAM on screen ({image.name})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model file (default: the bundled model)")
    parser.add_argument("--image", type=Path, default=SAMPLE)
    parser.add_argument("--walk", choices=["scan", "gui", "all"], default="all")
    args = parser.parse_args()
    if args.walk == "all":  # each walk in a fresh process: an audit hook cannot be removed
        import subprocess

        rest = sys.argv[1:]
        return max(subprocess.call([sys.executable, __file__, *rest, "--walk", name]) for name in ("scan", "gui"))
    walk = Walk()
    walk.install()
    {"scan": walk_scan, "gui": walk_gui}[args.walk](walk, args.model, args.image)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
