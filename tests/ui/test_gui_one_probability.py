"""One file, one probability: the GUI, `pneumoscan-cli predict --json` and `scan` all score the model's copy.

A large JPEG is decoded at a reduced scale for the model (`load_model_image`) while the viewer keeps the
full-size decode; if any front end scored the full decode, its probability would differ in the 6th decimal.
The bundled model is used: the random test model answers 0.500000 for every image.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

import app.cli as cli
import app.cli.common as cli_common
from app.core.io.images import load_image, load_model_image
from tests.helpers import ORIGINALS
from tests.test_image_io import encode, xray_like
from tests.ui.test_gui_window import open_and_wait


def _large_original() -> Path:
    if not ORIGINALS.is_dir():
        pytest.skip(f"shared data not found at {ORIGINALS}")
    jpegs = sorted(ORIGINALS.rglob("*.jpeg"), key=lambda p: p.stat().st_size)
    if not jpegs:
        pytest.skip(f"no JPEG in {ORIGINALS}")
    return jpegs[-1]


@pytest.fixture(params=["generated", "original"])
def large_jpeg(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """In a folder of its own, so `scan` scores it alone."""
    folder = tmp_path / "big"
    folder.mkdir()
    path = folder / "large.jpeg"
    if request.param == "original":
        path.write_bytes(_large_original().read_bytes())
    else:
        path.write_bytes(encode(Image.fromarray(xray_like(1200, 1400, 5)), "JPEG", quality=90))
    return path


def test_gui_predict_and_scan_give_one_probability(make_window, qtbot, large_jpeg: Path, real_screener,  # noqa: ANN001
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    full, model_copy = load_image(large_jpeg), load_model_image(large_jpeg, real_screener.card.input_size)
    assert model_copy.pixels.shape[0] < full.pixels.shape[0]  # the case that matters: a reduced decode
    full_decode = real_screener.predict(full).logit  # unrounded: a confident model rounds both to 0.000000

    window = make_window(screener=real_screener)
    result = open_and_wait(qtbot, window, large_jpeg)
    shown = result.probability
    assert window.image.pixels.shape == full.pixels.shape  # the viewer keeps the full-size image
    assert window.explanation.heatmap.shape == full.pixels.shape

    monkeypatch.setattr(cli_common, "open_screener", lambda _model, _backend, _site=None, _bundle=None: real_screener)
    assert cli.main(["predict", "--json", str(large_jpeg)]) == 0
    predicted = json.loads(capsys.readouterr().out)["probability"]
    out = tmp_path / "big.csv"
    assert cli.main(["scan", str(large_jpeg.parent), "--out", str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as handle:
        scanned = [float(row["probability"]) for row in csv.DictReader(handle)]

    assert scanned == [predicted] and shown == predicted == real_screener.predict_file(large_jpeg).probability
    assert result.logit == pytest.approx(real_screener.predict(model_copy).logit, abs=1e-6)
    assert result.logit != pytest.approx(full_decode, abs=1e-6)  # so the GUI did not score the viewer's full decode
