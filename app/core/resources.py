"""Where bundled files live, from a source checkout and from a PyInstaller bundle alike.

The only place that knows about `sys._MEIPASS`; everything else asks `resource_path`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

MODEL_FILE = "pneumoscan_mobilenetv2.keras"
MODEL_ENV = "PNEUMOSCAN_MODEL"


def base_dir() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)
    return Path(bundle) if bundle else Path(__file__).resolve().parents[2]


def resource_path(*parts: str) -> Path:
    return base_dir().joinpath(*parts)


def default_model_path() -> Path:
    """`$PNEUMOSCAN_MODEL` if set, else the model in `resources/`: the `.keras` file, or its ONNX export where
    only that is there (the PyInstaller bundle, which has no TensorFlow to run the `.keras`)."""
    override = os.environ.get(MODEL_ENV)
    if override:
        return Path(override)
    model = resource_path("resources", MODEL_FILE)
    exported = model.with_suffix(".onnx")
    return exported if not model.is_file() and exported.is_file() else model


def sample_images() -> list[Path]:
    """The bundled sample X-rays (one NORMAL and one PNEUMONIA at least), sorted."""
    folder = resource_path("assets", "samples")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".jpeg", ".jpg", ".png"))
