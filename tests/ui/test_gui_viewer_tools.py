"""Viewer tools: window/level by right-drag and presets, invert, reset, and their shortcuts."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

from app.ui.levels import Levels
from tests.ui.conftest import NORMAL_SAMPLE, displayed
from tests.ui.test_gui_window import open_and_wait


def test_levels_table() -> None:
    assert np.array_equal(Levels().table(), np.arange(256))
    narrow = Levels(window=100, level=100).table()
    assert narrow[50] == 0 and narrow[150] == 255 and narrow[100] in (127, 128)
    assert np.array_equal(Levels(invert=True).table(), 255 - np.arange(256))
    dragged = Levels().dragged(-56, 20)
    assert (dragged.window, dragged.level) == (200.0, 147.5)


def test_right_drag_changes_window_level_and_invert_and_reset_restore(window, qtbot) -> None:  # noqa: ANN001
    window.commands.gradcam.setChecked(False)
    open_and_wait(qtbot, window, NORMAL_SAMPLE)
    gray = window.image.pixels
    viewport = window.viewer.viewport()
    start = viewport.rect().center()
    with qtbot.waitSignal(window.view_updated, timeout=5_000):
        qtbot.mousePress(viewport, Qt.MouseButton.RightButton, pos=start)
        qtbot.mouseMove(viewport, start + QPoint(-100, 30))
        qtbot.mouseRelease(viewport, Qt.MouseButton.RightButton, pos=start + QPoint(-100, 30))
    assert window.view_controls.levels.window < 256 and window.view_controls.levels.level > 127.5
    shown = displayed(window)[:, :, 0]
    assert np.array_equal(shown, window.view_controls.levels.apply(gray))  # narrower window, more contrast
    assert shown.std() > gray.std()

    window.commands.invert.trigger()  # Ctrl+I
    qtbot.waitUntil(lambda: np.array_equal(displayed(window)[:, :, 0], window.view_controls.levels.apply(gray)), timeout=5_000)
    assert window.view_controls.levels.invert and window.view_controls.levels.window < 256  # inverted, the window kept
    window.commands.reset_levels.trigger()  # Ctrl+R: full range, not inverted
    qtbot.waitUntil(lambda: np.array_equal(displayed(window)[:, :, 0], gray), timeout=5_000)
    assert window.view_controls.levels == Levels() and not window.commands.invert.isChecked()

    window.commands.invert.trigger()
    qtbot.waitUntil(lambda: np.array_equal(displayed(window)[:, :, 0], 255 - gray), timeout=5_000)
    assert window.prediction is not None and window.session.explain_request is None  # the model input is unchanged


def test_opacity_and_explained_class_shortcuts(window, qtbot) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, NORMAL_SAMPLE)
    window.panel.set_opacity(0.4)
    window.commands.more_opaque.trigger()  # ]
    assert window.panel.opacity == 0.5
    window.commands.less_opaque.trigger()  # [
    window.commands.less_opaque.trigger()
    assert window.panel.opacity == 0.3
    assert window.commands.more_opaque.shortcut().toString() == "]"
    with qtbot.waitSignal(window.prediction_shown, timeout=30_000):
        window.commands.explain_choices["NORMAL"].trigger()  # Alt+2
    assert window.explanation.explained_class == "NORMAL" and window.panel.explained_class == "NORMAL"
    with qtbot.waitSignal(window.prediction_shown, timeout=30_000):
        window.commands.explain_choices["PNEUMONIA"].trigger()  # Alt+1: the default
    assert window.explanation.explained_class == "PNEUMONIA"


def test_an_error_clears_the_scroll_bars_and_disables_grad_cam(window, qtbot, tmp_path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, NORMAL_SAMPLE)
    window.commands.actual.trigger()  # 100 %: scroll bars
    assert window.viewer.horizontalScrollBar().maximum() > 0
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    with qtbot.waitSignal(window.error_shown, timeout=30_000):
        window.open_paths([broken])
    assert window.viewer.horizontalScrollBar().maximum() == 0 and window.viewer.verticalScrollBar().maximum() == 0
    assert not window.panel.gradcam_group.isEnabled() and not window.commands.gradcam.isEnabled()
