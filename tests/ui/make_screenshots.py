"""Take the README screenshots with the real app (not a test; run it under a display, e.g. Xvfb):

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python tests/ui/make_screenshots.py [--model PATH]

Writes docs/screenshots/normal_gradcam.png, pneumonia_gradcam.png, out_of_domain.png and scan_view.png
(a recursive scan of the shared originals), all at 1280 x 720, a laptop screen, with the heat map
explaining the predicted class (the default). Uses throw-away settings, so the user's own are untouched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def wait(app, condition, timeout: float = 300.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        app.processEvents()
        time.sleep(0.01)
    for _ in range(20):  # let paints settle
        app.processEvents()
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--originals", type=Path, default=REPO.parent / "shared" / "data" / "originals")
    args = parser.parse_args()
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.core.resources import resource_path
    from app.ui.window import MainWindow

    app = QApplication([sys.argv[0]])
    app.setStyle("Fusion")
    settings = QSettings(os.path.join(tempfile.mkdtemp(), "PneumoScan.ini"), QSettings.Format.IniFormat)
    window = MainWindow(model_path=args.model, settings=settings)
    window.resize(1280, 720)
    window.move(0, 0)
    window.show()
    wait(app, lambda: window.engine.ready or window.engine.error is not None)
    if window.engine.error:
        raise SystemExit(window.engine.error)
    args.out.mkdir(parents=True, exist_ok=True)
    window.commands.gradcam.setChecked(True)
    window.panel.set_opacity(0.4)
    samples = resource_path("assets", "samples")
    shots = {"normal_gradcam.png": (samples / "NORMAL_IM-0117-0001.jpeg", ""),
             "pneumonia_gradcam.png": (samples / "PNEUMONIA_person1003_virus_1685.jpeg", "")}
    for name, (image, explained) in shots.items():
        window.panel.set_explained_class(explained)  # "": the predicted class, the default
        done: list = []
        window.prediction_shown.connect(done.append)
        window.open_paths([image])
        wait(app, lambda: bool(done) and not window.busy)
        window.prediction_shown.disconnect(done.append)
        window.grab().save(str(args.out / name))
        print("wrote", args.out / name, done[0].label, f"{done[0].probability:.3f}")

    import cv2
    import skimage.data

    photo = Path(tempfile.mkdtemp()) / "chelsea_the_cat.png"  # a photograph: the domain gate must refuse it
    cv2.imwrite(str(photo), skimage.data.chelsea()[:, :, ::-1])
    done = []
    window.prediction_shown.connect(done.append)
    window.open_paths([photo])
    wait(app, lambda: bool(done) and not window.busy)
    window.prediction_shown.disconnect(done.append)
    window.grab().save(str(args.out / "out_of_domain.png"))
    print("wrote", args.out / "out_of_domain.png", done[0].display_label)

    panel = window.scan_panel
    window.offer_scan(args.originals)
    panel.recursive_check.setChecked(True)
    panel.csv_edit.setText(os.path.join(tempfile.mkdtemp(), "originals_pneumoscan.csv"))
    window.resizeDocks([window.scan_dock], [330], __import__("PySide6.QtCore").QtCore.Qt.Orientation.Vertical)
    ended: list = []
    panel.finished.connect(ended.append)
    panel.start()
    wait(app, lambda: bool(ended), timeout=900)
    # show a flagged image from the table, sorted by probability (highest first)
    from PySide6.QtCore import Qt

    from app.core.image_io import load_image

    panel.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    shown = {path.name.split("_", 1)[1] for path, _ in shots.values()}
    row = next(r for r in range(panel.proxy.rowCount())  # a flagged image of the usual size, not shown yet
               if Path(panel.proxy.index(r, 0).data()).name not in shown
               and load_image(args.originals / panel.proxy.index(r, 0).data()).width >= 1000)
    done = []
    window.prediction_shown.connect(done.append)
    panel.table.selectRow(row)  # the current row opens in the viewer
    panel.table.scrollTo(panel.proxy.index(row, 0))
    wait(app, lambda: bool(done) and not window.busy)
    window.grab().save(str(args.out / "scan_view.png"))
    print("wrote", args.out / "scan_view.png", panel.summary_label.text())
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
