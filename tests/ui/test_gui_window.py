"""The main window: open and drop files, predictions, errors, CLAHE, Grad-CAM, zoom, settings, About."""

from __future__ import annotations

import dataclasses
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app.core.model.scope import NOT_XRAY, OUTSIDE_POPULATION
from app.core.numbers import probability_text
from tests.ui.conftest import NORMAL_SAMPLE, PNEUMONIA_SAMPLE, SAMPLES, displayed

TIMEOUT = 30_000


def _mime(paths: list[Path]) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def drop(window, paths: list[Path]) -> QDropEvent:  # noqa: ANN001
    mime = _mime(paths)
    enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    return event


def open_and_wait(qtbot, window, path: Path):  # noqa: ANN001, ANN201
    with qtbot.waitSignal(window.prediction_shown, timeout=TIMEOUT) as blocker:
        window.open_paths([path])
    return blocker.args[0]


def test_window_appears_before_the_model_is_ready(make_window, test_model_path: Path, qtbot) -> None:  # noqa: ANN001
    window = make_window(model_path=test_model_path, wait=False)
    assert window.isVisible()
    assert not window.engine.ready
    assert "Loading model" in window.status_bar.model_status.text()
    assert not window.viewer.has_image()  # the hint "Drop an X-ray here or press Ctrl+O" is painted
    window.open_paths([NORMAL_SAMPLE])  # asked before the model is ready: shown now, predicted later
    qtbot.waitUntil(lambda: window.viewer.has_image(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: window.prediction is not None, timeout=60_000)
    assert window.engine.ready
    assert "ready" in window.status_bar.model_status.text()


def test_open_shows_probability_at_full_resolution(window, qtbot) -> None:  # noqa: ANN001
    prediction = open_and_wait(qtbot, window, PNEUMONIA_SAMPLE)
    assert 0.0 <= prediction.probability <= 1.0
    assert window.panel.probability_label.text().startswith(probability_text(prediction.probability))
    assert window.panel.badge.text() in ("PNEUMONIA", "NORMAL")
    assert window.panel.badge.kind == prediction.label
    assert window.panel.result_box.isVisible()
    assert "0.0.0-test" in window.panel.model_label.text()
    assert "Model input without CLAHE" in window.panel.model_input_label.text()
    image = window.viewer.image
    assert (image.width(), image.height()) == (window.image.width, window.image.height)  # not the 224 px input
    assert window.image.width > 224
    assert not window.busy and not window.status_bar.busy_bar.isVisible()


def test_drop_several_files_and_step_through_them(window, qtbot) -> None:  # noqa: ANN001
    files = [NORMAL_SAMPLE, PNEUMONIA_SAMPLE]
    with qtbot.waitSignal(window.prediction_shown, timeout=TIMEOUT):
        assert drop(window, files).isAccepted()
    assert window.current_path == NORMAL_SAMPLE
    assert "image 1 of 2" in window.panel.image_info.text()
    assert window.commands.next.isEnabled() and not window.commands.previous.isEnabled()
    with qtbot.waitSignal(window.prediction_shown, timeout=TIMEOUT):
        window.commands.next.trigger()
    assert window.current_path == PNEUMONIA_SAMPLE
    assert window.explanation.heatmap.shape == window.image.pixels.shape
    window.activateWindow()
    window.viewer.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.viewer, timeout=5_000)
    with qtbot.waitSignal(window.image_shown, timeout=TIMEOUT):
        qtbot.keyClick(window.viewer, Qt.Key.Key_PageUp)
    assert window.current_path == NORMAL_SAMPLE


def test_stale_results_are_dropped(window, qtbot) -> None:  # noqa: ANN001
    shown = []
    window.prediction_shown.connect(shown.append)
    window.open_paths([NORMAL_SAMPLE])
    window.open_paths([PNEUMONIA_SAMPLE])  # the user moves on before the first result
    qtbot.waitUntil(lambda: window.explanation is not None and not window.busy, timeout=TIMEOUT)
    assert window.current_path == PNEUMONIA_SAMPLE
    assert window.explanation.heatmap.shape == window.image.pixels.shape  # the map of the image on screen
    assert len(shown) == 1


def test_drop_a_folder_offers_a_scan(window, tmp_path: Path) -> None:  # noqa: ANN001
    from app.core.scan.folder import default_scan_csv

    drop(window, [SAMPLES])
    assert window.scan_dock.isVisible()
    assert Path(window.scan_panel.folder_edit.text()) == SAMPLES
    assert Path(window.scan_panel.csv_edit.text()) == default_scan_csv(SAMPLES)
    assert not window.scan_panel.running  # offered, not started


def test_corrupt_file_shows_an_error_and_the_window_keeps_working(window, qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    broken = tmp_path / "broken.jpeg"
    data = NORMAL_SAMPLE.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT) as blocker:
        window.open_paths([broken])
    assert "truncated" in blocker.args[0]
    assert window.panel.error_label.isVisible()
    assert "truncated" in window.panel.error_label.text()
    assert window.panel.badge.kind == "ERROR"
    assert "truncated" in window.statusBar().currentMessage()
    assert not window.viewer.has_image()
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("hello")
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT):
        window.open_paths([not_an_image])
    assert "Not a readable image" in window.panel.error_label.text()
    prediction = open_and_wait(qtbot, window, NORMAL_SAMPLE)
    assert prediction.probability >= 0
    assert window.panel.error_label.isHidden()
    assert window.viewer.has_image()


def test_unsupported_dicom_is_reported(window, qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # a structured report: no pixels
    meta.MediaStorageSOPInstanceUID = generate_uid()
    report = Dataset()
    report.file_meta = meta
    report.Modality = "SR"
    path = tmp_path / "report.dcm"
    pydicom.dcmwrite(path, report, enforce_file_format=True)
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT):
        window.open_paths([path])
    assert "no pixel data" in window.panel.error_label.text()
    assert "no pixel data" in window.statusBar().currentMessage()


def test_out_of_domain_and_warnings_do_not_look_like_a_finding(qtbot) -> None:  # noqa: ANN001
    from app.core.screening import Explanation, Prediction
    from app.ui.panel import PredictionPanel
    from app.ui.result_widgets import NEUTRAL_FILL

    panel = PredictionPanel()
    qtbot.addWidget(panel)
    panel.show()
    big = panel.font().pointSizeF() * 1.5
    warning = "Outside the model's population: this chest X-ray looks like an adult's."
    outside = Prediction(0.998, "PNEUMONIA", 0.42, 1.2, "1.2.3", False, 40.0, OUTSIDE_POPULATION,
                         warnings=(warning, "Low resolution"))
    panel.show_prediction(Explanation(outside, np.zeros((8, 8), np.float32), "PNEUMONIA", True))
    assert (panel.badge.kind, panel.badge.text()) == ("OUTSIDE_POPULATION", "Outside the model's population")
    assert panel.warning_label.isVisible() and warning in panel.warning_label.text()
    layout = panel.layout()
    assert layout.indexOf(panel.warning_label) < layout.indexOf(panel.result_box)  # the reason first
    assert panel.probability_label.font().pointSizeF() < big  # small and grey, not a big bold number
    assert "placeholder-text" in panel.probability_label.styleSheet()
    assert "not a reliable result" in panel.probability_label.text()
    assert panel.bar.fill_colour.name() == NEUTRAL_FILL  # no pneumonia red
    assert "do not rely on this probability" in panel.decision_label.text()

    header = "DICOM header: lateral view; the model was trained on frontal views."
    caveat = Prediction(0.1, "NORMAL", 0.42, -2.0, "1.2.3", False, 20.0, warnings=(header,))
    panel.show_prediction(Explanation(caveat, np.ones((8, 8), np.float32), "NORMAL", False))
    assert (panel.badge.kind, panel.badge.text()) == ("CAUTION", "NORMAL \u2014 with warnings")
    assert panel.probability_label.font().pointSizeF() < big and panel.bar.fill_colour.name() == NEUTRAL_FILL

    normal = Prediction(0.1, "NORMAL", 0.42, -2.0, "1.2.3", False)
    panel.show_prediction(Explanation(normal, np.ones((8, 8), np.float32), "PNEUMONIA", False))
    assert (panel.badge.kind, panel.badge.text()) == ("NORMAL", "NORMAL")
    assert panel.warning_label.isHidden()
    assert panel.probability_label.font().pointSizeF() >= big
    assert "0.100 is below the threshold 0.420" in panel.decision_label.text()
    certain = Prediction(0.99997, "PNEUMONIA", 0.42, 9.0, "1.2.3", False)
    panel.show_prediction(Explanation(certain, np.ones((8, 8), np.float32), "PNEUMONIA", False))
    assert panel.probability_label.text() == "> 0.999"  # never "1.000"
    assert "threshold 0.420" in panel.bar.toolTip()


def test_out_of_domain_image_keeps_the_heat_map_off_unless_asked(window, qtbot, monkeypatch) -> None:  # noqa: ANN001
    from app.core.screening import Explanation

    screener = window.engine.screener
    real = screener.explain

    def outside(*args, **kwargs) -> Explanation:  # noqa: ANN002, ANN003
        e = real(*args, **kwargs)
        p = dataclasses.replace(e.prediction, scope=NOT_XRAY, warnings=("Not a chest X-ray.",))
        return dataclasses.replace(e, prediction=p)

    monkeypatch.setattr(screener, "explain", outside)
    window.commands.gradcam.setChecked(True)
    open_and_wait(qtbot, window, PNEUMONIA_SAMPLE)
    assert window.panel.badge.kind == "NOT_XRAY"
    assert window.viewer.heat is None and not window.commands.gradcam.isChecked()
    assert "tick the box" in window.panel.gradcam_note.text()
    window.panel.gradcam_check.setChecked(True)  # asked for: shown
    assert window.viewer.heat is not None
    with qtbot.waitSignal(window.prediction_shown, timeout=TIMEOUT):
        window.commands.explain_choices["NORMAL"].trigger()  # another class of the same image
    assert window.explanation.explained_class == "NORMAL"
    assert window.commands.gradcam.isChecked() and window.viewer.heat is not None  # the user's choice stays
    monkeypatch.setattr(screener, "explain", real)
    window.commands.gradcam.setChecked(False)
    open_and_wait(qtbot, window, NORMAL_SAMPLE)
    assert window.viewer.heat is None  # the user's own choice (off) stays


def test_clahe_changes_the_view_not_the_prediction(window, qtbot) -> None:  # noqa: ANN001
    window.commands.gradcam.setChecked(False)
    prediction = open_and_wait(qtbot, window, NORMAL_SAMPLE)
    text = window.panel.probability_label.text()
    before = displayed(window)
    window.commands.clahe.setChecked(True)
    after = displayed(window)
    assert after.shape == before.shape
    assert np.mean(np.abs(after.astype(int) - before.astype(int))) > 2.0
    assert np.array_equal(after[:, :, 0], after[:, :, 1])  # still grayscale
    assert window.prediction is prediction  # no new request was made
    assert window.session.explain_request is None
    assert window.panel.probability_label.text() == text
    assert window.panel.view_label.isVisible() and "for your eyes only" in window.panel.view_label.text()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    qtbot.keyClick(window.viewer, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)  # View > CLAHE, Ctrl+E
    assert not window.commands.clahe.isChecked()
    assert np.array_equal(displayed(window), before)


def test_clahe_view_uses_the_model_cards_settings(make_window, test_model_path: Path, qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """An image opened while the model loads gets the default CLAHE view, rebuilt with the card's once it is known."""
    import dataclasses
    import shutil

    from app.core.model.card import read_card
    from app.core.io.preprocessing import apply_clahe

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    shutil.copy(test_model_path, model_dir / test_model_path.name)
    card = read_card(test_model_path)
    dataclasses.replace(card, preprocessing=dataclasses.replace(card.preprocessing, clahe_clip_limit=6.0)).save(model_dir)
    window = make_window(model_path=model_dir / test_model_path.name, wait=False)
    window.commands.gradcam.setChecked(False)
    window.commands.clahe.setChecked(True)
    window.open_paths([NORMAL_SAMPLE])
    qtbot.waitUntil(lambda: window.views is not None, timeout=TIMEOUT)
    decoded = window.image
    qtbot.waitUntil(lambda: window.engine.ready and window.views.clahe_settings == (6.0, 8), timeout=TIMEOUT)
    assert window.image is decoded and window.views.image is decoded  # rebuilt from the decoded image, not the file
    assert np.array_equal(displayed(window)[:, :, 0], apply_clahe(window.image.pixels, 6.0, 8))
    assert not np.array_equal(displayed(window)[:, :, 0], apply_clahe(window.image.pixels, 2.0, 8))


def test_gradcam_toggle_and_opacity_change_the_pixels(window, qtbot) -> None:  # noqa: ANN001
    window.commands.gradcam.setChecked(False)
    open_and_wait(qtbot, window, PNEUMONIA_SAMPLE)
    gray = displayed(window)
    assert np.array_equal(gray[:, :, 0], gray[:, :, 2])
    window.commands.gradcam.setChecked(True)
    assert window.panel.gradcam_check.isChecked()
    coloured = displayed(window)
    assert not np.array_equal(coloured, gray)
    assert "PNEUMONIA" in window.panel.gradcam_note.text()
    assert "not a finding" not in window.panel.gradcam_note.text()
    assert window.viewer.annotations.caption == "Heat map: evidence for PNEUMONIA"
    with qtbot.waitSignal(window.view_updated, timeout=TIMEOUT):
        window.panel.set_opacity(0.9)
    stronger = displayed(window)
    assert not np.array_equal(stronger, coloured)
    with qtbot.waitSignal(window.prediction_shown, timeout=TIMEOUT):
        window.panel.set_explained_class("NORMAL")
    assert window.explanation.explained_class == "NORMAL"
    assert "NORMAL" in window.panel.gradcam_note.text()
    # a NORMAL map must not read as a finding: said in the panel, captioned on the image, drawn in green
    assert "not a finding" in window.panel.gradcam_note.text()
    assert "NORMAL" in window.viewer.annotations.caption and "not a finding" in window.viewer.annotations.caption


def test_shown_blend_is_the_engines_overlay(window, qtbot) -> None:  # noqa: ANN001
    """The viewer blends ready layers; at full resolution that must equal `overlay` from the engine."""
    from app.core.explain.colour import overlay
    from app.core.io.preprocessing import apply_clahe

    window.commands.gradcam.setChecked(True)
    window.commands.clahe.setChecked(True)
    open_and_wait(qtbot, window, PNEUMONIA_SAMPLE)
    window.panel.set_opacity(0.7)
    gray = apply_clahe(window.image.pixels, 2.0, 8)
    expected = overlay(gray, window.explanation, 0.7)
    difference = np.abs(displayed(window).astype(int) - expected.astype(int))
    assert difference.max() <= 2  # Qt blends with an 8-bit alpha
    window.commands.gradcam.setChecked(False)
    assert np.array_equal(displayed(window)[:, :, 0], gray)


def test_zoom_fit_and_actual_size(window, qtbot) -> None:  # noqa: ANN001
    from PySide6.QtCore import QPoint as Point
    from PySide6.QtGui import QWheelEvent

    open_and_wait(qtbot, window, NORMAL_SAMPLE)
    fitted = window.viewer.zoom()
    assert window.viewer.fitted and fitted < 1.0
    window.commands.zoom_in.trigger()
    assert window.viewer.zoom() == pytest.approx(fitted * 1.25)
    viewport = window.viewer.viewport()
    corner = QPointF(30, 30)
    under_cursor = window.viewer.mapToScene(corner.toPoint())
    wheel = QWheelEvent(corner, QPointF(viewport.mapToGlobal(corner.toPoint())), Point(0, 0), Point(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, wheel)
    assert window.viewer.zoom() == pytest.approx(fitted * 1.25 * 1.25)
    after = window.viewer.mapToScene(corner.toPoint())  # the point under the cursor stays put
    assert abs(after.x() - under_cursor.x()) < 3 and abs(after.y() - under_cursor.y()) < 3
    window.commands.actual.trigger()
    assert window.viewer.zoom() == pytest.approx(1.0)
    assert window.status_bar.zoom_label.text() == "Zoom 100 %"
    window.commands.fit.trigger()
    assert window.viewer.zoom() == pytest.approx(fitted)


def test_settings_persist_across_a_restart(make_window, test_screener, gui_settings, qtbot) -> None:  # noqa: ANN001
    first = make_window(screener=test_screener)
    open_and_wait(qtbot, first, PNEUMONIA_SAMPLE)
    first.commands.clahe.setChecked(True)
    first.commands.gradcam.setChecked(False)
    first.panel.set_opacity(0.7)
    first.scan_panel.recursive_check.setChecked(True)
    first.scan_panel.set_folder(SAMPLES)
    first.resize(780, 560)  # within the offscreen platform's 800 x 600 screen
    first.close()

    second = make_window(screener=test_screener, size=None)
    assert second.commands.clahe.isChecked()
    assert not second.commands.gradcam.isChecked()
    assert second.panel.opacity == pytest.approx(0.7)
    assert second.scan_panel.recursive_check.isChecked()
    assert (second.width(), second.height()) == (780, 560)
    assert Path(second.last_folder) == SAMPLES
    with qtbot.waitSignal(second.prediction_shown, timeout=TIMEOUT):
        second.open_initial(None)  # no file on the command line: the last file comes back
    assert second.current_path == PNEUMONIA_SAMPLE


def test_open_recent_lists_the_last_files_across_a_restart(make_window, test_screener, qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    import shutil

    gone = tmp_path / "moved_away.jpeg"
    shutil.copy(NORMAL_SAMPLE, gone)
    first = make_window(screener=test_screener)
    for path in (gone, NORMAL_SAMPLE, PNEUMONIA_SAMPLE, NORMAL_SAMPLE):  # the repeat moves to the top
        open_and_wait(qtbot, first, path)
    assert first.recent_menu.paths() == [NORMAL_SAMPLE, PNEUMONIA_SAMPLE, gone]
    first.close()
    gone.unlink()

    second = make_window(screener=test_screener)
    menu = second.recent_menu
    menu.aboutToShow.emit()  # what opening File > Open Recent does
    entries = [a for a in menu.actions() if not a.isSeparator()]
    assert [a.text() for a in entries[:3]] == [f"&1 {NORMAL_SAMPLE.name}", f"&2 {PNEUMONIA_SAMPLE.name}", f"&3 {gone.name}"]
    assert [a.isEnabled() for a in entries[:3]] == [True, True, False]  # a file no longer there is not offered
    with qtbot.waitSignal(second.prediction_shown, timeout=TIMEOUT):
        entries[1].trigger()
    assert second.current_path == PNEUMONIA_SAMPLE
    assert menu.paths()[0] == PNEUMONIA_SAMPLE
    menu.actions()[-1].trigger()  # Clear Menu
    assert menu.paths() == [] and [a.text() for a in menu.actions()] == ["&Clear Menu"]


def test_missing_model_is_reported_and_images_still_open(make_window, tmp_path: Path, qtbot) -> None:  # noqa: ANN001
    window = make_window(model_path=tmp_path / "missing.keras")
    assert window.engine.error and "Model file not found" in window.engine.error
    assert window.status_bar.model_status.text() == "Model unavailable"
    with qtbot.waitSignal(window.image_shown, timeout=TIMEOUT):
        window.open_paths([NORMAL_SAMPLE])
    assert window.viewer.has_image()
    assert window.panel.badge.text() == "No prediction"
    assert "Model file not found" in window.panel.error_label.text()


def test_about_shows_the_model_card(window) -> None:  # noqa: ANN001
    from app.ui.about import AboutDialog

    dialog = AboutDialog(window.engine.card, None, str(window.model_path), window)
    text = dialog.browser.toPlainText()
    for expected in ("test model", "0.0.0-test", "Decision threshold", "0.500", "Validation metrics",
                     "Training data", "Licence", "not a medical device"):
        assert expected in text
    dialog.close()


def test_about_names_metrics_in_words_with_percentages_and_the_domain_cut_off() -> None:
    import json

    from app.core.model.card import ModelCard
    from app.ui.about import about_html

    card = ModelCard.from_dict(json.loads((Path(__file__).resolve().parents[2] / "resources" / "model_card.json").read_text()))
    card.validation_metrics = {"sensitivity": 0.974, "ece": 0.0123, "n_normal": 269, "confusion_matrix": [[269, 0], [20, 755]]}
    card.domain = {"file": "domain_stats.npz", "cutoff": 70.85}
    html = about_html(card)
    assert "Sensitivity (pneumonia found)" in html and "97.4 %" in html and "1.2 %" in html
    assert "n_normal" not in html and "ece" not in html.replace("reference", "")
    assert "70.8" in html and "20 missed" in html


def test_main_delegates_self_test_and_version(monkeypatch) -> None:  # noqa: ANN001
    from app.ui import main as gui_main

    calls = []
    fake = types.ModuleType("app.selftest")
    fake.main = lambda argv: calls.append(argv) or 3
    monkeypatch.setitem(sys.modules, "app.selftest", fake)
    monkeypatch.setattr("app.selftest", fake, raising=False)
    assert gui_main.main(["--self-test"]) == 3
    assert gui_main.main(["--version"]) == 3
    assert calls == [["--self-test"], ["--version"]]


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.jpeg")), ids=lambda p: p.name.split("_")[0])
def test_real_model_labels_the_samples(make_window, real_screener, qtbot, sample: Path) -> None:  # noqa: ANN001
    window = make_window(screener=real_screener)
    with qtbot.waitSignal(window.prediction_shown, timeout=TIMEOUT) as blocker:
        drop(window, [sample])
    expected = sample.name.split("_")[0]
    prediction = blocker.args[0]
    assert prediction.label == expected
    assert window.panel.badge.text() == prediction.display_label
    assert window.panel.probability_label.text().startswith(probability_text(prediction.probability))


def test_building_the_window_does_not_import_tensorflow() -> None:
    """TensorFlow (3-4 s) is imported on the engine thread only, so the window appears at once."""
    import subprocess

    code = ("import sys; import app.ui.main, app.ui.window; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2], timeout=60)


ENGINE_SCRIPT = """
import sys, time
from pathlib import Path
from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
app = QCoreApplication([])
from app.core.io.images import load_model_image
from app.core.scan.folder import ScanRequest
from app.ui.engine import Engine, ScanJob
model, sample, folder, out = sys.argv[1:5]
engine, results = Engine(), []
engine.explained.connect(lambda r, x, heat: results.append(x))
engine.explain_failed.connect(lambda r, m: results.append(m))
engine.scan_finished.connect(results.append)
engine.scan_failed.connect(lambda j, m: results.append(m))
def wait(n):
    loop = QEventLoop()
    timer = QTimer(); timer.timeout.connect(lambda: len(results) >= n and loop.quit()); timer.start(20)
    QTimer.singleShot(120000, loop.quit)
    loop.exec()
engine.load(model)
engine.explain(load_model_image(sample, (224, 224)), "PNEUMONIA")  # traces Grad-CAM in one step on the engine thread
wait(1)
engine.start_scan(ScanJob(ScanRequest(Path(folder), Path(out))))  # traces the batch graph in a later step
wait(2)
engine.shutdown()
print("RESULTS", [type(r).__name__ for r in results])
"""


def test_engine_thread_survives_tracing_in_separate_calls(test_model_path: Path, tmp_path: Path) -> None:
    """Fresh process, TensorFlow first used on the engine thread: with a plain QThread (C++ run()),
    every slot call got a new Python thread state, TensorFlow's thread-local graph context was lost
    between calls, and tracing the second graph crashed with a segmentation fault."""
    import subprocess

    folder = tmp_path / "one"
    folder.mkdir()
    (folder / NORMAL_SAMPLE.name).write_bytes(NORMAL_SAMPLE.read_bytes())
    result = subprocess.run(
        [sys.executable, "-c", ENGINE_SCRIPT, str(test_model_path), str(PNEUMONIA_SAMPLE), str(folder),
         str(tmp_path / "one.csv")], cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
        timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "RESULTS ['Explanation', 'ScanEnd']" in result.stdout
