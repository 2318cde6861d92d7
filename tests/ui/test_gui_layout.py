"""Laptop screens: the image keeps a usable area beside the docks, and the result panel fits."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.core.model.scope import NOT_XRAY
from app.ui.viewer import MIN_IMAGE_AREA
from tests.ui.conftest import PNEUMONIA_SAMPLE
from tests.ui.test_gui_window import open_and_wait


@pytest.mark.parametrize("size", [(1280, 720), (1024, 640)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_image_area_keeps_its_minimum_with_the_scan_panel_open(make_window, test_screener, qtbot, size) -> None:  # noqa: ANN001
    window = make_window(screener=test_screener, size=size)
    open_and_wait(qtbot, window, PNEUMONIA_SAMPLE)
    window.scan_dock.show()
    window.resizeDocks([window.scan_dock], [window.height()], Qt.Orientation.Vertical)  # dragged up all the way
    QApplication.processEvents()
    assert (window.width(), window.height()) == size
    viewport = window.viewer.size()
    assert viewport.width() >= MIN_IMAGE_AREA.width() and viewport.height() >= MIN_IMAGE_AREA.height()
    assert window.scan_panel.table.isVisible() and window.scan_panel.table.height() >= 60


def test_result_panel_does_not_scroll_at_1280x720(make_window, test_screener, qtbot) -> None:  # noqa: ANN001
    window = make_window(screener=test_screener, size=(1280, 720))
    open_and_wait(qtbot, window, PNEUMONIA_SAMPLE)
    QApplication.processEvents()
    assert not window.panel_scroll.verticalScrollBar().isVisible()
    warnings = ("Outside the model's domain: the image does not resemble the chest X-rays it was trained on "
                "(domain score 180.2 > cut-off 70.8).", "Colour image: it is not grayscale-like.",
                "DICOM header: lateral view; the model was trained on frontal views.")
    explanation = window.explanation
    caution = dataclasses.replace(explanation.prediction, scope=NOT_XRAY, warnings=warnings)
    window.panel.show_prediction(dataclasses.replace(explanation, prediction=caution))  # the tallest state
    QApplication.processEvents()
    assert window.panel.minimumSizeHint().height() <= window.panel_scroll.viewport().height()
