"""`export_onnx`: the ONNX file and head beside the `.keras`, recorded in its card; a head the closed form
cannot explain, or an export that disagrees with Keras, is refused and leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from app.core.errors import ModelError
from app.core.model.card import CARD_NAME, read_card, sha256_of
from app.core.io.preprocessing import PreprocessConfig
from app.core.screening import Screener
from model_training import export
from tests.helpers import save_model_with_card

pytestmark = pytest.mark.keras

SIZE = 24


def small_model(hidden_activation: str = "relu", seed: int = 0) -> keras.Model:
    """Conv "out_relu" -> GAP "features" -> Dense(6) -> Dropout -> Dense(1) "logit" -> sigmoid: the product's head."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(5, 3, strides=3, activation="relu", name="out_relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    x = keras.layers.Dropout(0.5)(keras.layers.Dense(6, activation=hidden_activation)(x))
    return keras.Model(inputs, keras.layers.Activation("sigmoid")(keras.layers.Dense(1, name="logit")(x)))


def saved(model: keras.Model, folder: Path) -> Path:
    return save_model_with_card(model, folder, preprocessing=PreprocessConfig(input_size=(SIZE, SIZE)))


def test_export_writes_both_files_and_the_cards_entry(tmp_path: Path) -> None:
    path = saved(small_model(), tmp_path)
    before = json.loads((tmp_path / CARD_NAME).read_text(encoding="utf-8"))
    assert export.export_command(path) == 0
    card = read_card(path)  # the .keras is untouched: its own sha256 still matches
    entry = card.onnx
    assert entry["file"] == "test.onnx" and entry["sha256"] == sha256_of(tmp_path / "test.onnx")
    assert entry["head"]["sha256"] == sha256_of(tmp_path / entry["head"]["file"])
    assert entry["opset"] == export.OPSET and entry["input_shape"] == [SIZE, SIZE, 3]
    assert entry["outputs"] == ["feature_map", "logit", "features"] and entry["max_logit_difference"] < 1e-4
    after = json.loads((tmp_path / CARD_NAME).read_text(encoding="utf-8"))
    assert {k: v for k, v in after.items() if k != "onnx"} == {k: v for k, v in before.items() if k != "onnx"}
    onnx, keras_ = Screener(path), Screener(path, "keras")
    assert onnx.backend.name == "onnx"
    batch = np.random.default_rng(1).uniform(-1, 1, (4, SIZE, SIZE, 3)).astype(np.float32)
    assert np.allclose(onnx.backend.infer(batch)[0], keras_.backend.infer(batch)[0], atol=1e-5)


def test_a_head_the_closed_form_cannot_explain_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = saved(small_model(hidden_activation="tanh"), tmp_path)
    assert export.export_command(path) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--backend keras" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [CARD_NAME, "test.keras"]
    assert read_card(path).onnx == {}


def test_an_export_that_differs_from_keras_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A converter that writes another network's graph: the parity check catches it, no file is kept."""
    path = saved(small_model(seed=0), tmp_path)
    other = export.Classifier(small_model(seed=1))
    convert = export.convert
    monkeypatch.setattr(export, "convert", lambda _classifier, onnx_path: convert(other, onnx_path))
    with pytest.raises(ModelError, match="differs from the Keras model"):
        export.export_onnx(path)
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob("*_head.npz"))
    assert read_card(path).onnx == {}
