"""The runtime seam: which engine runs the network, chosen per model and per request.

`onnx` (ONNX Runtime) is the default wherever the model has an ONNX export beside it: no TensorFlow in
the process, so start-up and the installed size shrink by an order of magnitude. `keras` runs the
`.keras` file itself (any model, including ones never exported) and needs TensorFlow, which only the
`keras` and `training` extras install. Both give the logit, the pooled features and Grad-CAM evidence
in logit units, so everything above them (calibration, threshold, domain gate) is shared.

`BACKEND_CHOICES` is the one list of backends: every `--backend` option and the launcher read it. This
module stays light (no NumPy, no OpenCV at import), so the self-test's and the GUI's parsers may import it.
`app.core.model.bundle.ModelBundle` opens the chosen backend on the files it verified.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

from app.core.errors import ModelError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class BackendChoice:
    name: str
    description: str


BACKEND_CHOICES = (
    BackendChoice("onnx", "ONNX Runtime: the exported .onnx, no TensorFlow (the default when the model is exported)"),
    BackendChoice("keras", "TensorFlow/Keras: the .keras file itself (needs pip install 'pneumoscan[keras]')"),
)
BACKEND_NAMES = tuple(choice.name for choice in BACKEND_CHOICES)  # what `--backend` offers
DEFAULT_BACKEND = "auto"  # onnx when the model has an ONNX export beside it, else keras
BACKENDS = (DEFAULT_BACKEND, *BACKEND_NAMES)  # what a request may name
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


def requested_backend(requested: str | None = None) -> str:
    """`requested`, else $PNEUMOSCAN_BACKEND, else "auto"."""
    return requested or os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND


def file_that_runs(model_path: Path, onnx_file: object, model_file: str, requested: str | None = None) -> Path:
    """The file `choose_backend` would run, from the card's file names alone: `--version` answers without loading."""
    if _runs_onnx(model_path, _exported(model_path, onnx_file), requested_backend(requested)) and onnx_file:
        return model_path.parent / str(onnx_file)
    return model_path.parent / model_file if model_path.suffix.lower() == ".onnx" else model_path


def choose_backend(model_path: Path, onnx_file: str, requested: str | None = None) -> str:
    """"onnx" or "keras" for `requested` ("onnx", "keras" or "auto"/None: $PNEUMOSCAN_BACKEND, else ONNX when
    exported, else Keras), or `ModelError` saying why it cannot run here, before any file is read."""
    requested = requested_backend(requested)
    if requested not in BACKENDS:
        raise ModelError(f"Unknown backend {requested!r}; choose one of {', '.join(BACKENDS)}.")
    exported = _exported(model_path, onnx_file)
    if _runs_onnx(model_path, exported, requested):
        if not exported:
            raise ModelError(f"{model_path.name} has no ONNX export beside it: {export_hint(model_path)}, or use --backend keras.")
        return "onnx"
    if not tensorflow_installed():
        if requested == "keras":
            raise ModelError("The keras backend needs TensorFlow and Keras: pip install 'pneumoscan[keras]'.")
        raise ModelError(f"{model_path.name} has no ONNX export beside it and TensorFlow is not installed: "
                         f"{export_hint(model_path)}, or pip install 'pneumoscan[keras]' to run it as it is.")
    return "keras"
