"""Reading a film at a glance (issue 19): the heat map of the finding, graded scope states and their
counts, per-image window/level, the identity overlay, what the number is (site calibration), the
keyboard, tooltips and a 1024 x 640 laptop screen."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QLineEdit,
    QSlider,
)

from app.core.scan.row import ScanRow
from app.core.model.scope import IN_SCOPE, NEAR_EDGE, NOT_XRAY, OUTSIDE_POPULATION
from app.core.screening import Explanation, Prediction
from app.ui.imaging import qimage_to_rgb
from app.ui.levels import Levels
from tests.ui.conftest import NORMAL_SAMPLE, PNEUMONIA_SAMPLE, SAMPLES
from tests.ui.test_gui_window import TIMEOUT, open_and_wait

REASONS = {
    NEAR_EDGE: "Near the edge of the model's domain (domain score 76.4, cut-off 75.4): the result stands.",
    OUTSIDE_POPULATION: "Outside the model's population: this chest X-ray looks like an adult's.",
    NOT_XRAY: "Not a chest X-ray: the image does not resemble a chest radiograph; no result is given.",
}


def scoped(p: Prediction, scope: str) -> Prediction:
    return dataclasses.replace(p, scope=scope, warnings=(REASONS[scope],) if scope in REASONS else ())


# --- the heat map of the finding ----------------------------------------------------------------
def test_the_heat_map_explains_pneumonia_by_default_and_normal_only_on_request(window, qtbot) -> None:  # noqa: ANN001
    window.commands.gradcam.setChecked(True)
    open_and_wait(qtbot, window, NORMAL_SAMPLE)
    assert window.explanation.explained_class == "PNEUMONIA"  # whatever the label
    assert window.panel.explained_class == "PNEUMONIA"
    with qtbot.waitSignal(window.prediction_shown, timeout=TIMEOUT):
        window.commands.explain_choices["NORMAL"].trigger()
    assert window.explanation.explained_class == "NORMAL"
    assert "NORMAL" in window.viewer.annotations.caption  # captioned on the image
    heat = qimage_to_rgb(window.heat)
    alpha = window.heat.convertToFormat(window.heat.Format.Format_RGBA8888)
    tinted = np.frombuffer(alpha.constBits(), np.uint8).reshape(alpha.height(), -1, 4)[..., 3] > 0
    if tinted.any():  # the green scale: green dominates every tinted pixel, never red
        assert (heat[tinted][:, 1] >= heat[tinted][:, 0]).all()
    open_and_wait(qtbot, window, PNEUMONIA_SAMPLE)  # the next image: back to the default
    assert window.explanation.explained_class == "PNEUMONIA"
    assert window.commands.explain_choices["PNEUMONIA"].isChecked()


# --- graded scope states ------------------------------------------------------------------------
def test_three_scope_states_have_three_wordings_and_looks(qtbot) -> None:  # noqa: ANN001
    from app.ui.panel import PredictionPanel

    panel = PredictionPanel()
    qtbot.addWidget(panel)
    panel.show()
    base = Prediction(0.93, "PNEUMONIA", 0.76, 2.0, "2.0.0", False, 70.0)
    seen = {}
    for scope in (IN_SCOPE, NEAR_EDGE, OUTSIDE_POPULATION, NOT_XRAY):
        panel.show_prediction(Explanation(scoped(base, scope), np.ones((7, 7), np.float32), "PNEUMONIA", False))
        seen[scope] = (panel.badge.kind, panel.badge.text())
        if scope == NOT_XRAY:  # no number at all, and never "the model would say PNEUMONIA"
            assert panel.probability_label.isHidden() and panel.bar.isHidden()
            assert "PNEUMONIA" not in panel.decision_label.text() and "PNEUMONIA" not in panel.badge.text()
        elif scope == OUTSIDE_POPULATION:
            assert not panel.probability_label.isHidden() and "not a reliable result" in panel.probability_label.text()
            assert "placeholder-text" in panel.probability_label.styleSheet()
        else:  # the label stands, in its own colour and at full size
            assert panel.badge.kind == "PNEUMONIA" and "not a reliable" not in panel.probability_label.text()
            assert panel.bar.fill_colour.name() != "#9e9e9e"
    assert seen[NEAR_EDGE] == ("PNEUMONIA", "PNEUMONIA \u2014 near the domain edge")
    assert "not a chest X-ray" not in seen[NEAR_EDGE][1].lower()
    assert len({kind for kind, _ in seen.values()}) == 3 and len({text for _, text in seen.values()}) == 4


def test_the_table_and_the_summary_never_count_a_not_assessable_film_as_flagged(window) -> None:  # noqa: ANN001
    from app.ui.scan_results import ROW_FILTERS, summary_counts

    def row(name: str, scope: str, label: str = "PNEUMONIA") -> ScanRow:
        reason = REASONS.get(scope, "")
        return ScanRow(name, "warning" if reason else "ok", 0.9 if label == "PNEUMONIA" else 0.1, label, 0.76, "2.0.0",
                       scope in (IN_SCOPE, NEAR_EDGE), scope, 70.0, None, reason)

    rows = [row("a.jpeg", IN_SCOPE), row("b.jpeg", NEAR_EDGE), row("c.jpeg", OUTSIDE_POPULATION),
            row("d.jpeg", NOT_XRAY), row("e.jpeg", IN_SCOPE, "NORMAL"), ScanRow("f.jpeg", "error", error="truncated")]
    model = window.scan_panel.model
    model.append(rows)
    cells = [model.index(r, 2).data() for r in range(len(rows))]
    assert cells == ["\u25b2 PNEUMONIA", "\u25b2 PNEUMONIA \u00b7 near edge", "? outside population",
                     "\u2205 not a chest X-ray", "\u25cf NORMAL", ""]
    assert [r.path for r in rows if ROW_FILTERS["Flagged PNEUMONIA"](r)] == ["a.jpeg", "b.jpeg"]
    assert [r.path for r in rows if ROW_FILTERS["Not assessable"](r)] == ["c.jpeg", "d.jpeg"]
    summary = summary_counts(rows)
    assert "5 scored, 2 flagged PNEUMONIA (1 near the domain edge, label kept)" in summary
    assert "2 not assessable, never counted as flagged (1 outside the model's population, 1 not a chest X-ray)" in summary
    assert "1 error (not scored)" in summary


def test_a_folder_of_class_sub_folders_offers_to_include_them(window, tmp_path: Path) -> None:  # noqa: ANN001
    folder = tmp_path / "chest_xray"
    for name in ("NORMAL", "PNEUMONIA"):
        (folder / name).mkdir(parents=True)
        (folder / name / f"{name}.jpeg").write_bytes(NORMAL_SAMPLE.read_bytes())
    asked = []
    window.scan_panel.ask_include_subfolders = lambda f, n: asked.append((f, n)) or True
    window.scan_panel.recursive_check.setChecked(False)
    window.handle_dropped([folder])
    assert asked == [(folder, 2)] and window.scan_panel.recursive_check.isChecked()
    window.handle_dropped([SAMPLES])  # images in the folder itself: nothing to ask
    assert len(asked) == 1


# --- per-image view state -----------------------------------------------------------------------
def test_window_level_and_invert_reset_for_each_new_image_unless_kept(window, qtbot) -> None:  # noqa: ANN001
    window.commands.gradcam.setChecked(False)
    open_and_wait(qtbot, window, NORMAL_SAMPLE)
    window.view_controls.set_levels(Levels(81, 228, True))
    qtbot.waitUntil(lambda: "W 81 \u00b7 L 228 \u00b7 inverted" in window.viewer.annotations.bottom_right[0], timeout=5_000)
    open_and_wait(qtbot, window, PNEUMONIA_SAMPLE)
    assert window.view_controls.levels == Levels() and not window.commands.invert.isChecked()
    assert window.viewer.annotations.bottom_right == ("W 256 \u00b7 L 128",)  # the readout on the view
    assert np.array_equal(qimage_to_rgb(window.viewer.composite())[:, :, 0], window.image.pixels)

    window.commands.keep_levels.setChecked(True)  # the setting to keep them, with a visible indicator
    window.view_controls.set_levels(Levels(160, 80, True))
    open_and_wait(qtbot, window, NORMAL_SAMPLE)
    assert window.view_controls.levels == Levels(160, 80, True)
    assert "kept for every image" in window.viewer.annotations.bottom_right[0]
    assert window.settings.value("view/keep_levels", type=bool)


# --- identity overlay ---------------------------------------------------------------------------
def test_dicom_identity_is_in_the_views_corners_and_out_of_exports_unless_asked(window, qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    pytest.importorskip("pydicom")
    from app.core.io.images import load_image
    from tests.test_image_io import make_dicom, ramp16

    path = tmp_path / "adult_lateral.dcm"
    path.write_bytes(make_dicom(ramp16(300, 300), PatientName="Doe^Jane", PatientID="HX-4711", PatientAge="045Y",
                                PatientSex="F", StudyDate="20240117", ViewPosition="LL"))
    assert load_image(path).identity == {"patient_name": "Doe, Jane", "patient_id": "HX-4711", "patient_sex": "F",
                                         "study_date": "2024-01-17"}
    window.commands.gradcam.setChecked(False)
    open_and_wait(qtbot, window, path)
    shown = window.viewer.annotations
    assert shown.top_left == ("Doe, Jane", "ID HX-4711", "45 years \u00b7 female")
    assert shown.top_right == ("2024-01-17", "View LL") and shown.bottom_left == ("adult_lateral.dcm",)
    plain = qimage_to_rgb(window.viewer.composite())

    exported = tmp_path / "export.png"
    with qtbot.waitSignal(window.view_saved, timeout=TIMEOUT):
        window.export_view(exported)  # identity left out unless asked
    from PySide6.QtGui import QImage

    assert np.array_equal(qimage_to_rgb(QImage(str(exported))), plain)
    window.commands.export_identity.setChecked(True)
    with qtbot.waitSignal(window.view_saved, timeout=TIMEOUT):
        window.export_view(exported)
    assert not np.array_equal(qimage_to_rgb(QImage(str(exported))), plain)  # asked: written into the picture

    window.commands.identity.setChecked(False)  # the toggle, remembered
    assert window.viewer.annotations.top_left == () and window.viewer.annotations.bottom_left == ()
    assert window.settings.value("view/identity", type=bool) is False
    open_and_wait(qtbot, window, NORMAL_SAMPLE)
    window.commands.identity.setChecked(True)
    assert window.viewer.annotations.bottom_left == (NORMAL_SAMPLE.name,) and window.viewer.annotations.top_left == ()


# --- say what the number is ---------------------------------------------------------------------
def site_file(folder: Path, model_sha256: str) -> Path:
    from app.core.model.site import SiteCalibration

    site = SiteCalibration("St Elsewhere", model_sha256, 1.3, -0.4, 0.61, "2026-11-02T10:00:00",
                           {"NORMAL": 120, "PNEUMONIA": 180})
    path = folder / "SITE.json"
    path.write_bytes(site.encode())
    return path


def test_site_calibration_menu_applies_remembers_and_refuses(make_window, test_screener, qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    from app.ui.about import about_html
    from app.ui.panel import CALIBRATED_FOR

    window = make_window(screener=test_screener)
    open_and_wait(qtbot, window, NORMAL_SAMPLE)
    assert window.panel.calibration_label.text() == CALIBRATED_FOR
    good = site_file(tmp_path, test_screener.card.sha256)
    with qtbot.waitSignal(window.prediction_shown, timeout=60_000):  # reopened in the worker, then re-predicted
        window.set_site(str(good))
    described = "calibrated for St Elsewhere on 300 images (2026-11-02)"
    assert window.panel.calibration_label.text() == f"Site calibration: {described}."
    assert window.prediction.threshold == pytest.approx(0.61) and window.prediction.site_sha256
    assert window.settings.value("model/site", type=str) == str(good)
    assert window.commands.clear_site.isEnabled()
    assert described in about_html(window.engine.card, None, "", window.engine.site_description)

    edited = tmp_path / "EDITED.json"
    data = json.loads(good.read_text())
    data["threshold"] = 0.2
    edited.write_text(json.dumps(data))
    problems = []
    window.show_site_problem = problems.append
    with qtbot.waitSignal(window.engine.site_failed, timeout=TIMEOUT):
        window.set_site(str(edited))
    assert problems and "edited or damaged" in problems[0]
    assert window.engine.site == str(good) and window.settings.value("model/site", type=str) == str(good)  # kept
    assert window.panel.calibration_label.text() == f"Site calibration: {described}."

    with qtbot.waitSignal(window.prediction_shown, timeout=60_000):
        window.commands.clear_site.trigger()
    assert window.panel.calibration_label.text() == CALIBRATED_FOR and not window.settings.contains("model/site")
    assert window.prediction.site_sha256 == ""


# --- keyboard and tooltips ----------------------------------------------------------------------
def test_arrows_pan_when_zoomed_ctrl_arrows_step_files_and_esc_returns_to_the_image(window, qtbot) -> None:  # noqa: ANN001
    with qtbot.waitSignal(window.prediction_shown, timeout=TIMEOUT):
        window.open_paths([NORMAL_SAMPLE, PNEUMONIA_SAMPLE])
    window.activateWindow()
    window.viewer.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.viewer, timeout=5_000)
    window.commands.actual.trigger()  # zoomed in: scroll bars
    bar = window.viewer.horizontalScrollBar()
    before = bar.value()
    qtbot.keyClick(window.viewer, Qt.Key.Key_Right)
    assert bar.value() > before and window.current_path == NORMAL_SAMPLE  # panned, not the next file
    with qtbot.waitSignal(window.image_shown, timeout=TIMEOUT):
        qtbot.keyClick(window.viewer, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert window.current_path == PNEUMONIA_SAMPLE
    window.scan_dock.show()
    window.scan_panel.folder_edit.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.scan_panel.folder_edit, timeout=5_000)
    qtbot.keyClick(window.scan_panel.folder_edit, Qt.Key.Key_Escape)
    assert QApplication.focusWidget() is window.viewer


def test_f1_lists_the_shortcuts_and_mnemonics_are_unique(window) -> None:  # noqa: ANN001
    from app.ui.shortcuts import shortcut_rows

    rows = {text: keys for keys, text in shortcut_rows([window])}
    for command in ("Keyboard Shortcuts", "About PneumoScan", "Start Scan", "Cancel Scan", "Focus the Image",
                    "Lungs (dark values)", "Next Image", "Identity Overlay", "Result Panel"):
        assert command in rows, command
    assert "F1" in rows["Keyboard Shortcuts"] and rows["Start Scan"] == "F5" and rows["Lungs (dark values)"] == "2"
    menus = [window.menuBar()] + [a.menu() for a in window.menuBar().actions()]
    menus += [a.menu() for m in menus[1:] for a in m.actions() if a.menu()]
    for menu in menus:
        keys = [t[t.index("&") + 1].lower() for t in (a.text() for a in menu.actions()) if "&" in t]
        assert len(keys) == len(set(keys)), (menu.title(), keys)


def test_every_control_has_a_tooltip(window) -> None:  # noqa: ANN001
    window.scan_dock.show()
    kinds = (QAbstractButton, QSlider, QLineEdit, QComboBox)
    missing = [w.text() if hasattr(w, "text") else type(w).__name__
               for kind in kinds for w in window.findChildren(kind)
               if w.isVisibleTo(window) and not w.toolTip() and not (hasattr(w, "defaultAction") and w.defaultAction())]
    assert missing == []


# --- a laptop screen ----------------------------------------------------------------------------
def test_1024x640_needs_no_scrolling_and_keeps_file_names_readable(make_window, test_screener, qtbot) -> None:  # noqa: ANN001
    from app.ui.about import AboutDialog

    window = make_window(screener=test_screener, size=(1024, 640))
    open_and_wait(qtbot, window, PNEUMONIA_SAMPLE)
    explanation = window.explanation
    for scope in (OUTSIDE_POPULATION, NEAR_EDGE, NOT_XRAY):  # the tallest states, with a quality warning too
        p = dataclasses.replace(scoped(explanation.prediction, scope),
                                warnings=(REASONS[scope], "DICOM header: lateral view; the model was trained on frontal views."))
        window.panel.show_prediction(dataclasses.replace(explanation, prediction=p))
        QApplication.processEvents()
        assert window.panel.minimumSizeHint().height() <= window.panel_scroll.viewport().height(), scope
    assert window.viewer.width() >= 560  # the image keeps most of the width beside the panel
    label = window.panel.file_label
    label.setText("PNEUMONIA/person1003_virus_1685_a_very_long_name_from_a_PACS_export.jpeg")
    QApplication.processEvents()
    assert label.text().startswith("PNEUMONIA/") and label.text().endswith(".jpeg") and "\u2026" in label.text()
    about = AboutDialog(window.engine.card, None, "", window)
    assert about.height() <= window.screen().availableGeometry().height()
    about.close()
