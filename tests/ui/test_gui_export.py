"""File > Export View as PNG: the full-resolution view as shown, with its provenance inside."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tests.ui.conftest import NORMAL_SAMPLE, PNEUMONIA_SAMPLE, displayed
from tests.ui.test_gui_window import TIMEOUT, open_and_wait


def test_export_writes_the_view_as_shown_with_the_result_inside(window, qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    assert not window.commands.export.isEnabled()  # nothing to export yet
    window.commands.gradcam.setChecked(True)
    window.commands.clahe.setChecked(True)
    prediction = open_and_wait(qtbot, window, PNEUMONIA_SAMPLE)
    assert window.commands.export.isEnabled()
    figures = tmp_path / "figures"
    figures.mkdir()
    out = figures / "figure.png"
    with qtbot.waitSignal(window.view_saved, timeout=TIMEOUT):
        window.export_view(out)
    with Image.open(out) as png:
        pixels = np.asarray(png.convert("RGB"))
        text = dict(png.text)
    assert pixels.shape == (window.image.height, window.image.width, 3)  # full resolution, not the screen
    assert np.array_equal(pixels, displayed(window))  # CLAHE and the heat map, as on screen
    assert PNEUMONIA_SAMPLE.name in text["Description"] and "CLAHE" in text["Description"]
    assert f"{prediction.probability:.3f}" in text["Description"] and prediction.model_version in text["Description"]
    assert "Grad-CAM explaining PNEUMONIA" in text["Description"] and "not a medical device" in text["Description"]
    assert text["Software"].startswith("PneumoScan ")
    assert "Saved the view" in window.statusBar().currentMessage()
    assert [p.name for p in figures.iterdir()] == ["figure.png"]  # no partial file left behind


def test_export_without_overlay_is_the_grayscale_image(window, qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    window.commands.gradcam.setChecked(False)
    window.commands.clahe.setChecked(False)
    open_and_wait(qtbot, window, NORMAL_SAMPLE)
    out = tmp_path / "plain.png"
    with qtbot.waitSignal(window.view_saved, timeout=TIMEOUT):
        window.export_view(out)
    with Image.open(out) as png:
        pixels = np.asarray(png.convert("L"))
        assert "Grad-CAM" not in png.text["Description"]
    assert np.array_equal(pixels, window.image.pixels)


def test_export_to_a_missing_folder_says_so_and_the_window_goes_on(window, qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    open_and_wait(qtbot, window, NORMAL_SAMPLE)
    out = tmp_path / "no such folder" / "view.png"
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT) as blocker:
        window.export_view(out)
    assert "Could not save" in blocker.args[0] and "no such folder" in blocker.args[0]
    assert not out.exists()
    open_and_wait(qtbot, window, PNEUMONIA_SAMPLE)  # still works
