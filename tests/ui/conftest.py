"""GUI fixtures: a window on the session's test model, with settings in a temporary INI file."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "assets" / "samples"
NORMAL_SAMPLE = SAMPLES / "NORMAL_IM-0117-0001.jpeg"
PNEUMONIA_SAMPLE = SAMPLES / "PNEUMONIA_person1003_virus_1685.jpeg"


@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    return tmp_path / "settings" / "PneumoScan.ini"


@pytest.fixture
def gui_settings(settings_path: Path) -> QSettings:
    return QSettings(str(settings_path), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, gui_settings: QSettings) -> Callable[..., object]:
    """`make_window(screener=..., model_path=..., settings=..., wait=True, size=...)`: a shown MainWindow."""
    from app.ui.window import MainWindow

    def make(screener: object = None, model_path: Path | None = None, settings: QSettings | None = None,
             wait: bool = True, size: tuple[int, int] | None = (1200, 800)) -> MainWindow:
        window = MainWindow(model_path=model_path, settings=settings or gui_settings, screener=screener)
        qtbot.addWidget(window)  # closed (and its threads stopped) when the test ends
        if size:
            window.resize(*size)
        window.show()
        if wait:
            qtbot.waitUntil(lambda: window.engine.ready or window.engine.error is not None, timeout=60_000)
        return window

    return make


@pytest.fixture
def window(make_window, test_screener):  # noqa: ANN001
    return make_window(screener=test_screener)


@pytest.fixture
def scan_folder_small(tmp_path: Path) -> Path:
    """The four bundled samples plus one truncated JPEG: a fast folder with an error row."""
    folder = tmp_path / "xrays"
    folder.mkdir()
    for sample in sorted(SAMPLES.glob("*.jpeg")):
        shutil.copy(sample, folder / sample.name)
    data = NORMAL_SAMPLE.read_bytes()
    (folder / "broken.jpeg").write_bytes(data[: len(data) // 3])
    return folder


def displayed(window) -> np.ndarray:  # noqa: ANN001
    from app.ui.imaging import qimage_to_rgb

    composite = window.viewer.composite()
    assert composite is not None
    return qimage_to_rgb(composite)
