"""The model card: round trip, and every way a model and its card can fail to match, each refused
with a message that says what to do."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import ModelError
from app.core.model.card import CARD_NAME, ModelCard, read_card, sha256_of
from app.core.io.preprocessing import PreprocessConfig


def full_card(**changes: object) -> ModelCard:
    fields: dict = dict(
        name="PneumoScan MobileNetV2", version="1.2.3", model_file="model.keras", sha256="0" * 64,
        created="2026-01-01T00:00:00Z", preprocessing=PreprocessConfig(clahe=True, input_size=(224, 224)),
        threshold=0.37, threshold_rule="sensitivity >= 0.95 on validation", temperature=1.7,
        target_layer="out_relu", feature_layer="features", validation_metrics={"auc": 0.97, "sensitivity": 0.95},
        training_data="kermany224", licence="CC BY 4.0", command="python -m model_training ...",
        training_time_s=1234.5, domain={"file": "domain.npz", "sha256": "1" * 64, "cutoff": 42.0}, notes="n",
    )
    fields.update(changes)
    return ModelCard(**fields)


@pytest.fixture()
def model_dir(tmp_path: Path) -> Path:
    """A 'model' (any bytes: the card check hashes, it does not load) with a matching card."""
    model = tmp_path / "model.keras"
    model.write_bytes(np.random.default_rng(0).bytes(4096))
    full_card(sha256=sha256_of(model)).save(tmp_path)
    return tmp_path


def test_round_trip_through_dict_and_json() -> None:
    card = full_card()
    data = card.to_dict()
    assert data["preprocessing"] == {"clahe": True, "clahe_clip_limit": 2.0, "clahe_tile_grid": 8,
                                     "input_size": [224, 224], "scaling": "mobilenet_v2"}
    assert data["input_size"] == [224, 224]
    assert ModelCard.from_dict(data) == card
    assert ModelCard.from_dict(json.loads(json.dumps(data))) == card
    assert card.input_size == (224, 224)


def test_unknown_fields_are_ignored_and_defaults_filled() -> None:
    card = ModelCard.from_dict({"name": "m", "version": "1", "model_file": "m.keras", "sha256": "ab",
                                "a_field_from_the_future": [1, 2]})
    assert card.threshold == 0.5 and card.temperature == 1.0 and card.preprocessing == PreprocessConfig()
    assert card.target_layer == "out_relu" and card.feature_layer == "features"


def test_save_and_read_back(model_dir: Path) -> None:
    card = read_card(model_dir / "model.keras")
    assert card == full_card(sha256=sha256_of(model_dir / "model.keras"))
    assert json.loads((model_dir / CARD_NAME).read_text(encoding="utf-8"))["version"] == "1.2.3"


def test_sha256_mismatch_is_refused_with_what_to_do(model_dir: Path) -> None:
    model = model_dir / "model.keras"
    expected = sha256_of(model)
    with open(model, "r+b") as handle:  # one flipped byte: a damaged copy
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 1]))
    with pytest.raises(ModelError) as info:
        read_card(model)
    message = str(info.value)
    assert "does not match its model card" in message
    assert expected[:12] in message and sha256_of(model)[:12] in message
    assert "reinstall or retrain" in message


def test_missing_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="Model file not found.*pass --model"):
        read_card(tmp_path / "model.keras")


def test_missing_card(model_dir: Path) -> None:
    (model_dir / CARD_NAME).unlink()
    with pytest.raises(ModelError, match=f"Model card not found.*{CARD_NAME} beside it"):
        read_card(model_dir / "model.keras")


@pytest.mark.parametrize(
    "text",
    ['{"name": "m", "version": "1", "model_file": "model.keras", "sha2',  # truncated JSON
     "model: pneumoscan\nversion: 1\n",  # not JSON (YAML)
     '{"name": "m"}',  # required fields missing
     '{"name": "m", "version": "1", "model_file": "model.keras", "sha256": "x", '
     '"preprocessing": {"scaling": "caffe"}}'],  # a preprocessing the engine does not know
    ids=["truncated", "garbage", "missing_fields", "unknown_scaling"],
)
def test_corrupt_card(model_dir: Path, text: str) -> None:
    (model_dir / CARD_NAME).write_text(text, encoding="utf-8")
    with pytest.raises(ModelError, match="is corrupt"):
        read_card(model_dir / "model.keras")


def test_card_not_valid_utf8(model_dir: Path) -> None:
    (model_dir / CARD_NAME).write_bytes(b'{"name": "\xff\xfe"}')
    with pytest.raises(ModelError, match="is corrupt"):
        read_card(model_dir / "model.keras")


@pytest.mark.parametrize("text", ["[]", "null", '{"name": "m", "version": "1", "model_file": "model.keras", '
                                                '"sha256": "x", "preprocessing": null}'],
                         ids=["list", "null", "null_preprocessing"])
def test_card_that_is_json_but_not_an_object(model_dir: Path, text: str) -> None:
    (model_dir / CARD_NAME).write_text(text, encoding="utf-8")
    with pytest.raises(ModelError, match="is corrupt"):
        read_card(model_dir / "model.keras")


def test_card_of_another_model(model_dir: Path) -> None:
    model = model_dir / "model.keras"
    other = model_dir / "other.keras"
    other.write_bytes(model.read_bytes())
    with pytest.raises(ModelError, match="describes model.keras, not other.keras"):
        read_card(other)


@pytest.mark.keras
def test_screener_refuses_a_mismatched_model_before_loading_it(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import keras

    from app.core.screening import Screener

    def no_loading(*args: object, **kwargs: object) -> None:
        raise AssertionError("a mismatched model was loaded")

    monkeypatch.setattr(keras.models, "load_model", no_loading)
    (model_dir / "model.keras").write_bytes(b"replaced")
    with pytest.raises(ModelError, match="does not match its model card"):
        Screener(model_dir / "model.keras")


@pytest.mark.keras
def test_screener_reports_an_unloadable_model_file(model_dir: Path) -> None:
    from app.core.screening import Screener

    # The card's domain file is not there: a bundle verifies every file before any loads, so it goes.
    full_card(sha256=sha256_of(model_dir / "model.keras"), domain={}).save(model_dir)
    with pytest.raises(ModelError, match="could not be loaded.*reinstall or retrain"):
        Screener(model_dir / "model.keras")  # the card matches, but the bytes are no Keras archive


@pytest.mark.keras
def test_screener_checks_the_domain_statistics_against_the_card(tmp_path: Path) -> None:
    import keras

    from app.core.screening import Screener
    from tests.helpers import save_model_with_card

    inputs = keras.Input((224, 224, 3))
    x = keras.layers.Conv2D(2, 16, strides=16, activation="relu", name="out_relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    model = keras.Model(inputs, keras.layers.Activation("sigmoid")(keras.layers.Dense(1, name="logit")(x)))
    np.savez(tmp_path / "domain.npz", mean=np.zeros(2, np.float32), precision=np.eye(2, dtype=np.float32))
    path = save_model_with_card(model, tmp_path, domain={"file": "domain.npz", "sha256": "0" * 64, "cutoff": 3.0})
    with pytest.raises(ModelError, match=r"domain.npz \(domain statistics\) does not match the model card"):
        Screener(path)
    (tmp_path / "domain.npz").unlink()
    with pytest.raises(ModelError, match=r"\(domain statistics\) not found"):
        Screener(path)


@pytest.mark.parametrize("field, value", [("threshold", 1.5), ("threshold", -0.1), ("temperature", 0.0)])
def test_card_with_impossible_numbers_is_refused(model_dir: Path, field: str, value: float) -> None:
    path = model_dir / CARD_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    data[field] = value
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelError, match="is corrupt"):
        read_card(model_dir / "model.keras")


def test_card_with_a_byte_order_mark_is_read(model_dir: Path) -> None:
    path = model_dir / CARD_NAME
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read_card(model_dir / "model.keras").name
