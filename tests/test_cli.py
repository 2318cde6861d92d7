"""`pneumoscan-cli` in-process: predict (text and JSON), heatmap, scan, and its error exits.

Loading the MobileNetV2 test model costs seconds, so most tests reuse the session's screener: the
`cli_model` fixture hands it out only when the command line asked for `--model <test model>`
(anything else goes to the real loader), so a CLI that ignored --model would still fail here. One
test runs the whole path without the shortcut.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import app.cli.common as cli_common
from app import __version__
from app.core.numbers import probability_text
from app.core.resources import default_model_path
from app.cli import main
from app.core.scan.folder import default_scan_csv
from tests.test_image_io import encode, xray_like


@pytest.fixture()
def cli_model(test_model_path: Path, test_screener, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: ANN001
    real = cli_common.open_screener

    def open_screener(model: Path | None, backend: str | None, site: Path | None = None, bundle=None):  # noqa: ANN001, ANN202
        shortcut = model is not None and Path(model) == test_model_path and site is None
        return test_screener if shortcut else real(model, backend, site, bundle)

    monkeypatch.setattr(cli_common, "open_screener", open_screener)
    return str(test_model_path)


@pytest.fixture()
def images(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "xrays"
    folder.mkdir()
    paths = {}
    for name, (h, w, seed) in {"first.png": (300, 260, 1), "second.jpg": (256, 256, 2)}.items():
        fmt = "PNG" if name.endswith(".png") else "JPEG"
        paths[name] = folder / name
        paths[name].write_bytes(encode(Image.fromarray(xray_like(h, w, seed)), fmt))
    paths["empty.jpg"] = folder / "empty.jpg"
    paths["empty.jpg"].write_bytes(b"")
    return paths


def test_predict_text(cli_model: str, images: dict[str, Path], test_screener, capsys) -> None:  # noqa: ANN001
    code = main(["predict", str(images["first.png"]), str(images["second.jpg"]), "--model", cli_model])
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and len(out) == 2
    for line, name in zip(out, ("first.png", "second.jpg")):
        p = test_screener.predict_file(images[name])
        assert line == (f"{images[name]}: {p.label}  probability of pneumonia {probability_text(p.probability)} "
                        f"(threshold 0.500, model 0.0.0-test)")


def test_predict_bad_file_is_reported_and_exit_is_non_zero(cli_model: str, images: dict[str, Path], capsys) -> None:  # noqa: ANN001
    code = main(["predict", str(images["empty.jpg"]), str(images["first.png"]), "--model", cli_model])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err == f"{images['empty.jpg']}: ERROR The file is empty (0 bytes).\n"  # messages on stderr
    assert len(captured.out.splitlines()) == 1 and "probability of pneumonia" in captured.out  # the other file's result


def test_predict_json(cli_model: str, images: dict[str, Path], test_screener, capsys) -> None:  # noqa: ANN001
    code = main(["predict", "--json", str(images["first.png"]), str(images["empty.jpg"]), "--model", cli_model])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1 and len(records) == 2
    good, bad = records
    expected = test_screener.predict_file(images["first.png"])
    assert good["path"] == str(images["first.png"]) and good["status"] == "ok"
    assert good["probability"] == pytest.approx(round(expected.probability, 6))
    assert good["prediction"] == expected.label and good["threshold"] == 0.5
    assert good["warnings"] == [] and good["model_version"] == "0.0.0-test"
    assert good["in_domain"] is None and good["domain_score"] is None  # as in the CSV: this model has no domain gate
    assert good["model_sha256"] == test_screener.card.sha256[:12]
    assert bad == {"path": str(images["empty.jpg"]), "status": "error", "error": "The file is empty (0 bytes)."}


def test_predict_forced_clahe_warns(cli_model: str, images: dict[str, Path], capsys) -> None:  # noqa: ANN001
    assert main(["predict", str(images["first.png"]), "--clahe", "on", "--model", cli_model]) == 0
    assert "warning: CLAHE forced on; the model was trained without it." in capsys.readouterr().out


def test_heatmap_writes_an_rgb_png_of_the_input_size(cli_model: str, images: dict[str, Path], tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "overlay.png"
    code = main(["heatmap", str(images["first.png"]), "--out", str(out), "--model", cli_model])
    assert code == 0 and out.is_file()
    with Image.open(out) as written:
        assert written.format == "PNG" and written.mode == "RGB" and written.size == (260, 300)
    assert f"written to {out}" in capsys.readouterr().out
    plain = tmp_path / "plain.png"
    assert main(["heatmap", str(images["first.png"]), "--out", str(plain), "--opacity", "0", "--model", cli_model]) == 0
    with Image.open(plain) as written:  # opacity 0: the X-ray itself, in RGB
        assert np.array_equal(np.asarray(written), np.repeat(xray_like(300, 260, 1)[:, :, None], 3, axis=2))


def test_heatmap_of_a_bad_file_exits_1_with_the_reason(cli_model: str, images: dict[str, Path], tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "overlay.png"
    assert main(["heatmap", str(images["empty.jpg"]), "--out", str(out), "--model", cli_model]) == 1
    assert capsys.readouterr().err.strip() == f"{images['empty.jpg']}: ERROR The file is empty (0 bytes)."
    assert not out.exists()


def test_heatmap_unwritable_output_exits_2(cli_model: str, images: dict[str, Path], tmp_path: Path, capsys) -> None:  # noqa: ANN001
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    assert main(["heatmap", str(images["first.png"]), "--out", str(blocker / "x.png"), "--model", cli_model]) == 2
    assert "pneumoscan-cli: Cannot write" in capsys.readouterr().err


def test_scan_writes_the_csv(cli_model: str, images: dict[str, Path], tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "results.csv"
    folder = images["first.png"].parent
    code = main(["scan", str(folder), "--out", str(out), "--model", cli_model])
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["path"] for row in rows] == ["empty.jpg", "first.png", "second.jpg"]
    assert [row["status"] for row in rows] == ["error", "ok", "ok"]
    assert code == 1  # one file could not be scored
    captured = capsys.readouterr()
    assert captured.out.strip().startswith("3 scanned:") and "1 errors" in captured.out and str(out) in captured.out
    assert captured.err == ""  # the progress bar is for a terminal: nothing on a captured stderr


def test_scan_default_output_is_beside_the_folder(cli_model: str, images: dict[str, Path], capsys) -> None:  # noqa: ANN001
    folder = images["first.png"].parent
    expected = folder.parent / "xrays_pneumoscan.csv"
    assert default_scan_csv(folder) == expected.resolve()
    assert main(["scan", str(folder), "--model", cli_model]) == 1  # empty.jpg: an error row
    assert expected.is_file() and not (folder / "xrays_pneumoscan.csv").exists()


def test_scan_of_a_missing_folder_exits_2(cli_model: str, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["scan", str(tmp_path / "nope"), "--out", str(tmp_path / "r.csv"), "--model", cli_model]) == 2
    assert "pneumoscan-cli: Not a folder" in capsys.readouterr().err


def test_model_with_sha_mismatch_exits_2_with_what_to_do(test_model_path: Path, images: dict[str, Path], tmp_path: Path, capsys) -> None:  # noqa: ANN001
    folder = tmp_path / "tampered"
    shutil.copytree(test_model_path.parent, folder)
    with open(folder / test_model_path.name, "ab") as handle:
        handle.write(b"\0")
    code = main(["predict", str(images["first.png"]), "--model", str(folder / test_model_path.name)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("pneumoscan-cli: The model file test.keras does not match its model card")
    assert "reinstall or retrain" in err


def test_missing_model_exits_2(images: dict[str, Path], tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["predict", str(images["first.png"]), "--model", str(tmp_path / "none.keras")]) == 2
    assert "pneumoscan-cli: Model file not found" in capsys.readouterr().err


def test_version_and_usage(capsys) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    out = capsys.readouterr().out.strip()
    card = json.loads((default_model_path().parent / "model_card.json").read_text(encoding="utf-8"))
    assert exit_info.value.code == 0
    assert out == (f"PneumoScan {__version__}, model {card['name']} {card['version']} (sha256 {card['sha256'][:12]}), "
                   f"runs {card['onnx']['file']}")  # the file the default backend runs, not the .keras
    with pytest.raises(SystemExit) as exit_info:
        main([])  # a command is required
    assert exit_info.value.code == 2


def test_predict_end_to_end_without_shortcuts(test_model_path: Path, images: dict[str, Path], capsys) -> None:  # noqa: ANN001
    """The real loader: model card check, Keras load, tracing, prediction."""
    assert main(["predict", "--json", str(images["second.jpg"]), "--model", str(test_model_path)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "ok" and 0 <= record["probability"] <= 1


def test_one_file_gets_one_probability_in_predict_and_scan(cli_model: str, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """Both read the model's copy with `load_model_image`: a large JPEG is decoded reduced by both alike."""
    folder = tmp_path / "big"
    folder.mkdir()
    path = folder / "large.jpg"
    path.write_bytes(encode(Image.fromarray(xray_like(1000, 1100, 9)), "JPEG", quality=90))
    assert main(["predict", "--json", str(path), "--model", cli_model]) == 0
    predicted = json.loads(capsys.readouterr().out)["probability"]
    out = tmp_path / "big.csv"
    assert main(["scan", str(folder), "--out", str(out), "--model", cli_model]) == 0
    with open(out, newline="", encoding="utf-8") as handle:
        assert [float(row["probability"]) for row in csv.DictReader(handle)] == [predicted]
