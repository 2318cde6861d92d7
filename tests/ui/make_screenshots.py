"""Take the README screenshots with the real app (not a test; run it under a display, e.g. Xvfb):

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python tests/ui/make_screenshots.py [--model PATH] [--shared DIR]

Writes docs/screenshots/STATE.png at 1280 x 720 and STATE_1024.png at 1024 x 640 (laptop screens) for
each state a reader meets: a NORMAL film (clear: the default map is the evidence for pneumonia), a
PNEUMONIA film with its evidence, the NORMAL explanation on request, not a chest X-ray (a photograph),
outside the model's population (an adult's film), near the domain edge, a DICOM with the identity
overlay, and a recursive scan of the shared originals. Every state is the scope check's own answer on a
real film. Uses throw-away settings, so the user's own are untouched.
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

SIZES = {"": (1280, 720), "_1024": (1024, 640)}


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


def identity_dicom(source: Path, folder: Path) -> Path:
    """A real film wrapped in a DICOM with (invented) patient and study data."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    from app.core.io.images import load_image

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientName, ds.PatientID = "DX", "Example^Mia", "PS-000417"
    ds.PatientAge, ds.PatientSex, ds.StudyDate, ds.ViewPosition = "004Y", "F", "20261128", "AP"
    ds.set_pixel_data(np.ascontiguousarray(load_image(source).pixels), "MONOCHROME2", 8)
    path = folder / "example_mia_ap.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--shared", type=Path, default=Path(os.environ.get("PNEUMOSCAN_SHARED", REPO.parent / "shared")))
    args = parser.parse_args()
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtWidgets import QApplication

    from app.core.resources import resource_path
    from app.ui.window import MainWindow

    app = QApplication([sys.argv[0]])
    app.setStyle("Fusion")
    settings = QSettings(os.path.join(tempfile.mkdtemp(), "PneumoScan.ini"), QSettings.Format.IniFormat)
    window = MainWindow(model_path=args.model, settings=settings)
    window.move(0, 0)
    window.show()
    wait(app, lambda: window.engine.ready or window.engine.error is not None)
    if window.engine.error:
        raise SystemExit(window.engine.error)
    args.out.mkdir(parents=True, exist_ok=True)
    window.commands.gradcam.setChecked(True)
    window.panel.set_opacity(0.45)

    def grab(name: str) -> None:
        for suffix, size in SIZES.items():
            window.resize(*size)
            wait(app, lambda: True)
            window.grab().save(str(args.out / f"{name}{suffix}.png"))
            print("wrote", args.out / f"{name}{suffix}.png")

    def show(path: Path, name: str, normal: bool = False) -> None:
        done: list = []
        window.prediction_shown.connect(done.append)
        window.open_paths([path])
        wait(app, lambda: bool(done) and not window.busy)
        if normal:
            done.clear()
            window.commands.explain_choices["NORMAL"].trigger()
            wait(app, lambda: bool(done) and not window.busy)
        window.prediction_shown.disconnect(done.append)
        window.viewer.setFocus()
        print(name, done[0].display_label, f"{done[0].probability:.3f}")
        grab(name)

    samples = resource_path("assets", "samples")
    originals = args.shared / "data" / "originals"
    show(samples / "NORMAL_IM-0117-0001.jpeg", "normal_gradcam")
    show(samples / "PNEUMONIA_person1003_virus_1685.jpeg", "pneumonia_gradcam")
    show(samples / "NORMAL_IM-0117-0001.jpeg", "normal_evidence", normal=True)

    import cv2
    import skimage.data

    scratch = Path(tempfile.mkdtemp())
    photo = scratch / "chelsea_the_cat.png"  # a photograph: the domain gate must refuse it
    cv2.imwrite(str(photo), skimage.data.chelsea()[:, :, ::-1])
    show(photo, "out_of_domain")
    adult = next(iter(sorted((args.shared / "data" / "adult_nih" / "PNEUMONIA").iterdir())))
    show(adult, "outside_population")
    show(originals / "PNEUMONIA" / "person1372_bacteria_3503.jpeg", "near_edge")  # domain score 76.4, cut-off 75.4
    show(identity_dicom(originals / "PNEUMONIA" / "person1638_bacteria_4340.jpeg", scratch), "identity_overlay")

    from app.core.io.images import load_image

    panel = window.scan_panel
    panel.ask_include_subfolders = lambda _folder, _count: True  # the offer a drop of class sub-folders makes
    window.offer_scan(originals)
    panel.csv_edit.setText(str(scratch / "originals_pneumoscan.csv"))
    ended: list = []
    panel.finished.connect(ended.append)
    panel.start()
    wait(app, lambda: bool(ended), timeout=900)
    panel.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    row = next(r for r in range(panel.proxy.rowCount())  # a flagged image of the usual size
               if load_image(originals / panel.proxy.index(r, 0).data()).width >= 1000)
    done = []
    window.prediction_shown.connect(done.append)
    panel.table.selectRow(row)  # the current row opens in the viewer
    panel.table.scrollTo(panel.proxy.index(row, 0))
    wait(app, lambda: bool(done) and not window.busy)
    window.resizeDocks([window.scan_dock], [240], Qt.Orientation.Vertical)
    print(panel.summary_label.text())
    grab("scan_view")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
