"""Shared test helpers: save a Keras model with a valid model card, find the shared data.

Importing this module needs no TensorFlow (the engine and CLI tests run on the base install): Keras is
only a type here, and `save_model_with_card` only calls the model's own `save`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.model.card import ModelCard, sha256_of

SHARED = Path(os.environ.get("PNEUMOSCAN_SHARED", Path(__file__).resolve().parents[2] / "shared"))
ORIGINALS = SHARED / "data" / "originals"
KERMANY = SHARED / "data" / "kermany224"

if TYPE_CHECKING:
    import keras


def save_model_with_card(model: keras.Model, folder: Path, name: str = "test.keras", **card: Any) -> Path:
    """Write `model` and a model card whose sha256 matches it; return the model path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    model.save(path)
    fields: dict[str, Any] = {"name": "test model", "version": "0.0.0-test"}
    fields.update(card)
    ModelCard(model_file=name, sha256=sha256_of(path), **fields).save(folder)
    return path
