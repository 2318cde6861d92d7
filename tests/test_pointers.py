"""The command line points the right way: predict on a folder suggests scan, a missing model names both
formats, --version names the file that runs, the launcher knows every command, and the self-test,
predict and heatmap write the same probability the GUI would (never "1.000")."""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
from pathlib import Path

import pytest

from app import selftest
from app.cli import build_parser, main
from app.core.io.images import load_model_image
from app.core.numbers import probability_text
from app.core.resources import sample_images

REPO = Path(__file__).resolve().parents[1]
CERTAINTY = re.compile(r"\b[01]\.000\b")


def test_predict_on_a_folder_suggests_scan_before_the_model_loads(tmp_path: Path, capsys, monkeypatch) -> None:  # noqa: ANN001
    import app.cli.common as cli_common

    monkeypatch.setattr(cli_common, "open_screener", lambda *a: pytest.fail("the model loaded for a usage error"))
    assert main(["predict", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"pneumoscan-cli: {tmp_path} is a folder; predict takes image files. To score "
                                       f"every image in it: pneumoscan-cli scan {tmp_path}\n")


def test_a_missing_model_names_both_formats(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["predict", str(sample_images()[0]), "--model", str(tmp_path / "none.onnx")]) == 2
    assert "pass --model with a trained .keras or .onnx file" in capsys.readouterr().err


def test_version_names_the_file_that_runs(real_model_path: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert "runs pneumoscan_mobilenetv2.onnx" in selftest.version_text(real_model_path)
    keras_only = tmp_path / "model"
    shutil.copytree(real_model_path.parent, keras_only, ignore=shutil.ignore_patterns("*.onnx", "*.png", "*.tsv"))
    assert "runs pneumoscan_mobilenetv2.keras" in selftest.version_text(keras_only / real_model_path.name)
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip().endswith("runs pneumoscan_mobilenetv2.onnx")


def test_the_launcher_knows_every_cli_command() -> None:
    spec = importlib.util.spec_from_file_location("pneumoscan_launcher", REPO / "packaging" / "launcher.py")
    launcher = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launcher)
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) <= set(launcher.CLI_COMMANDS) and {"merge", "watch"} <= set(commands)


def test_self_test_prints_what_predict_prints(real_model_path: Path, capsys) -> None:  # noqa: ANN001
    report = selftest.run_self_test(real_model_path, out=lambda line: None)
    assert report.passed
    text = "\n".join(report.lines)
    assert not CERTAINTY.search(text), text
    for path in (p for p in sample_images() if selftest.expected_label(p)):
        assert main(["predict", str(path), "--model", str(real_model_path)]) == 0
        shown = re.search(r"probability of pneumonia (\S+( \S+)?) \(", capsys.readouterr().out).group(1)
        assert not CERTAINTY.search(shown)
        assert f"{path.name}: " in text and f"p(pneumonia) {shown}," in text, (path.name, shown, text)


def test_heatmap_line_has_no_false_certainty(real_model_path: Path, real_screener, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    sample = next(p for p in sample_images() if p.name.startswith("PNEUMONIA_person1003"))  # > 0.999 with 2.0.0
    assert main(["heatmap", str(sample), "--out", str(tmp_path / "o.png"), "--model", str(real_model_path)]) == 0
    line = capsys.readouterr().out
    expected = probability_text(real_screener.predict(load_model_image(sample, real_screener.card.input_size)).probability)
    assert f"probability of pneumonia {expected} (threshold" in line and not CERTAINTY.search(line), line
