"""`--smoke-gui` (app.ui.smoke): the main window opens, shows a sample's result and closes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.ui import main as gui_main
from app.ui import smoke


def _copy_model(model: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in (model.name, "model_card.json"):
        shutil.copy(model.parent / name, folder / name)
    return folder / model.name


def test_smoke_gui_with_the_test_model(test_model_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gui_main.main(["--smoke-gui", "--model", str(test_model_path), "--timeout", "120"]) == 0
    out = capsys.readouterr().out
    assert "smoke-gui: window shown" in out and "model 0.0.0-test loaded" in out
    assert "first prediction shown, " in out and "smoke-gui PASSED" in out


def test_smoke_gui_reports_a_broken_model(test_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _copy_model(test_model_path, tmp_path / "broken")
    model.write_bytes(b"not a model")
    assert smoke.main(["--smoke-gui", "--model", str(model), "--timeout", "60"]) == 1
    assert "FAIL  smoke-gui" in capsys.readouterr().out
