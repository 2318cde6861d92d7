"""`--version` and `--self-test` (app.selftest) and the bundle's launcher, from source (`--smoke-gui`: tests/ui/test_smoke.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app import __version__, selftest
from app.core.model.card import CARD_NAME, ModelCard
from app.core.resources import MODEL_ENV, MODEL_FILE

REPO = Path(__file__).resolve().parents[1]


def _copy_model(source: Path, folder: Path, **card_changes) -> Path:
    """The test model under the bundle's file name, with its card (optionally changed, sha kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / MODEL_FILE
    shutil.copyfile(source, target)
    card = json.loads((source.parent / CARD_NAME).read_text(encoding="utf-8"))
    card.update(model_file=MODEL_FILE, **card_changes)
    ModelCard.from_dict(card).save(folder)
    return target


@pytest.fixture(scope="module")
def wrong_model(test_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid model whose threshold (1.0) its ~0.5 probabilities never reach: every sample comes out NORMAL."""
    return _copy_model(test_model_path, tmp_path_factory.mktemp("wrong"), threshold=1.0, version="0.0.0-wrong")


def test_expected_label_from_file_name() -> None:
    assert selftest.expected_label(Path("NORMAL_IM-0117-0001.jpeg")) == "NORMAL"
    assert selftest.expected_label(Path("PNEUMONIA_person1_virus.jpeg")) == "PNEUMONIA"
    assert selftest.expected_label(Path("pneumonia_x.png")) == "PNEUMONIA"
    assert selftest.expected_label(Path("README.md")) is None


def test_version_reads_the_card_without_tensorflow(wrong_model: Path) -> None:
    code = ("import sys; from app.selftest import main; rc = main(['--version']); "
            "print('TF-IMPORTED' if 'tensorflow' in sys.modules else 'TF-NOT-IMPORTED'); sys.exit(rc)")
    env = {**os.environ, MODEL_ENV: str(wrong_model)}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"PneumoScan {__version__}" in result.stdout
    assert "0.0.0-wrong" in result.stdout
    assert "TF-NOT-IMPORTED" in result.stdout


def test_version_without_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest.main(["--version", "--model", str(tmp_path / MODEL_FILE)]) == 0
    out = capsys.readouterr().out
    assert f"PneumoScan {__version__}" in out and "model: unavailable" in out


def test_wrong_labels_fail_and_name_the_sample(wrong_model: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(MODEL_ENV, str(wrong_model))
    assert selftest.main(["--self-test"]) == 1
    out = capsys.readouterr().out
    failed = [line for line in out.splitlines() if line.startswith("FAIL")]
    pneumonia = [p.name for p in (REPO / "assets" / "samples").glob("PNEUMONIA_*")]
    assert pneumonia and all(any(name in line for line in failed) for name in pneumonia)
    assert all("expected PNEUMONIA" in line for line in failed)
    assert "sha256" in out and "matches its card" in out  # the model itself was fine
    assert "Grad-CAM" in out  # the remaining checks still ran
    assert "self-test FAILED" in out.splitlines()[-1]


def test_tampered_model_reports_the_sha_mismatch(test_model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    model = _copy_model(test_model_path, tmp_path / "tampered")
    with open(model, "ab") as handle:
        handle.write(b"\0")
    monkeypatch.setenv(MODEL_ENV, str(model))
    assert selftest.main(["--self-test"]) == 1
    out = capsys.readouterr().out
    assert "does not match its model card" in out and "sha256" in out
    assert "FAIL  model:" in out


def test_missing_model_fails_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest.main(["--self-test", "--model", str(tmp_path / MODEL_FILE)]) == 1
    assert "Model file not found" in capsys.readouterr().out


class _BadHeatmap:
    """A screener whose Grad-CAM is the wrong size and not finite."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        self.inner, self.card, self.scope, self.backend = inner, inner.card, inner.scope, inner.backend

    def predict(self, image):  # noqa: ANN001, ANN201
        return self.inner.predict(image)

    def explain(self, image):  # noqa: ANN001, ANN201
        explanation = self.inner.explain(image)
        heatmap = np.full((7, 7), np.nan, np.float32)
        return type(explanation)(explanation.prediction, heatmap, explanation.explained_class, False)


def test_broken_gradcam_is_reported(test_screener, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import app.core.screening

    monkeypatch.setattr(app.core.screening, "Screener", lambda _bundle: _BadHeatmap(test_screener))
    lines: list[str] = []
    report = selftest.run_self_test(out=lines.append)
    assert not report.passed
    gradcam = [f for f in report.failures if f.startswith("Grad-CAM")]
    assert gradcam and "shape (7, 7)" in gradcam[0] and "non-finite" in gradcam[0]


def test_unexpected_error_is_a_failure_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.core.resources

    def boom() -> list[Path]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(app.core.resources, "default_model_path", boom)
    lines: list[str] = []
    report = selftest.run_self_test(out=lines.append)
    assert not report.passed and "disk on fire" in report.failures[0]


def test_no_flag_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest.main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_real_model_passes(real_model_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest.main(["--self-test", "--model", str(real_model_path)]) == 0
    out = capsys.readouterr().out
    assert "self-test PASSED" in out and "FAIL" not in out


def _launcher():
    spec = importlib.util.spec_from_file_location("pneumoscan_launcher", REPO / "packaging" / "launcher.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launcher_dispatch(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    launcher = _launcher()
    assert launcher.run(["--version"]) == 0
    assert f"PneumoScan {__version__}" in capsys.readouterr().out
    calls: list[tuple[str, list[str]]] = []
    import app.cli
    import app.ui.main

    monkeypatch.setattr(app.cli, "main", lambda argv: calls.append(("cli", argv)) or 0)
    monkeypatch.setattr(app.ui.main, "main", lambda argv: calls.append(("gui", argv)))
    assert launcher.run(["predict", "x.png"]) == 0
    assert launcher.run(["x.png"]) == 0
    assert calls == [("cli", ["predict", "x.png"]), ("gui", ["x.png"])]
