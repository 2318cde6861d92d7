"""The runtime seam: which engine runs the network, chosen per model and per request.

`onnx` (ONNX Runtime) is the default wherever the model has an ONNX export beside it: no TensorFlow in
the process, so start-up and the installed size shrink by an order of magnitude. `keras` runs the
`.keras` file itself (any model, including ones never exported) and needs TensorFlow, which only the
`keras` and `training` extras install. Both give the logit, the pooled features and Grad-CAM evidence
in logit units, so everything above them (calibration, threshold, domain gate) is shared.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from app.core.errors import ModelError
from app.core.model.card import ModelCard, read_card

BACKENDS = ("auto", "onnx", "keras")
BACKEND_ENV = "PNEUMOSCAN_BACKEND"  # like $PNEUMOSCAN_MODEL: reaches the GUI's loader thread and the bundle


class Backend(Protocol):
    name: str

    def infer(self, batch: np.ndarray, chunk: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """(n, H, W, 3) -> logits (n,) and penultimate features (n, d)."""

    def explain(self, image: np.ndarray, positive: bool = True) -> tuple[np.ndarray, float, np.ndarray]:
        """(H, W, 3) -> Grad-CAM evidence (h, w) in logit units (>= 0, unnormalised), the logit, the features."""

    def explain_predicted(self, image: np.ndarray, is_positive: Callable[[float], bool]
                          ) -> tuple[np.ndarray, bool, float, np.ndarray]:
        """Like `explain` for the class `is_positive(logit)` decides: evidence, that decision, logit, features."""


def tensorflow_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("tensorflow", "keras"))


def export_hint(model_path: Path) -> str:
    return (f"export it with `python -m model_training export --model {model_path}` "
            "(needs pip install 'pneumoscan[training]')")


def _exported(model_path: Path, onnx_file: object) -> bool:
    return bool(onnx_file) and (model_path.parent / str(onnx_file)).is_file()


def _runs_onnx(model_path: Path, exported: bool, requested: str) -> bool:
    return requested == "onnx" or (requested == "auto" and (exported or model_path.suffix.lower() == ".onnx"))


def file_that_runs(model_path: Path, onnx_file: object, model_file: str, requested: str | None = None) -> Path:
    """The file `open_backend` would run, from the card's file names alone: `--version` answers without loading."""
    requested = requested or os.environ.get(BACKEND_ENV) or "auto"
    if _runs_onnx(model_path, _exported(model_path, onnx_file), requested) and onnx_file:
        return model_path.parent / str(onnx_file)
    return model_path.parent / model_file if model_path.suffix.lower() == ".onnx" else model_path


def open_backend(model_path: Path, card: ModelCard, requested: str | None = None) -> Backend:
    """`requested`: "onnx", "keras" or "auto"/None ($PNEUMOSCAN_BACKEND, else ONNX when exported, else Keras)."""
    requested = requested or os.environ.get(BACKEND_ENV) or "auto"
    if requested not in BACKENDS:
        raise ModelError(f"Unknown backend {requested!r}; choose one of {', '.join(BACKENDS)}.")
    folder, is_onnx = model_path.parent, model_path.suffix.lower() == ".onnx"
    exported = _exported(model_path, card.onnx.get("file"))
    if _runs_onnx(model_path, exported, requested):
        if not exported:
            raise ModelError(f"{model_path.name} has no ONNX export beside it: {export_hint(model_path)}, or use --backend keras.")
        from app.core.model.onnx_backend import OnnxBackend

        return OnnxBackend(folder, card)
    if not tensorflow_installed():
        if requested == "keras":
            raise ModelError("The keras backend needs TensorFlow and Keras: pip install 'pneumoscan[keras]'.")
        raise ModelError(f"{model_path.name} has no ONNX export beside it and TensorFlow is not installed: "
                         f"{export_hint(model_path)}, or pip install 'pneumoscan[keras]' to run it as it is.")
    from app.core.model.keras_classifier import load_classifier

    keras_path = folder / card.model_file if is_onnx else model_path
    if is_onnx:
        read_card(keras_path)  # the .keras beside an .onnx must match the card too
    return load_classifier(keras_path, card)
