"""The model card: what a model file is, how it was trained, and how it must be fed and read.

The card lives beside the `.keras` file (and its ONNX export) as `model_card.json`. The engine refuses
a model whose sha256 differs from the card's, so a swapped or half-copied file never produces a probability.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import ModelError
from app.core.io.preprocessing import PreprocessConfig

CARD_NAME = "model_card.json"


@dataclass
class ModelCard:
    """Everything the app shows in About and everything prediction needs besides the weights."""

    name: str
    version: str
    model_file: str
    sha256: str
    created: str = ""
    preprocessing: PreprocessConfig = field(default_factory=PreprocessConfig)
    threshold: float = 0.5
    threshold_rule: str = ""
    temperature: float = 1.0  # calibrated probability = sigmoid(logit / temperature)
    target_layer: str = "out_relu"  # Grad-CAM's feature map
    feature_layer: str = "features"  # penultimate features for the domain check
    validation_metrics: dict[str, Any] = field(default_factory=dict)
    training_data: str = ""
    licence: str = ""
    command: str = ""
    training_time_s: float | None = None
    domain: dict[str, Any] = field(default_factory=dict)  # {"file", "sha256", "cutoff", "not_xray_cutoff", ...}
    # The supervised population check (`app.core.model.scope`): {"file", "sha256", "cutoff", "method", "figures"}.
    population: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    # Grad-CAM evidence (logit units) that the heat map's top colour stands for: a fixed scale, so one
    # colour means the same on every image (None: older cards; the map is then scaled per image).
    gradcam_reference: float | None = None
    recipe: dict[str, Any] = field(default_factory=dict)  # the training options that made the model
    robustness: dict[str, Any] = field(default_factory=dict)  # stress-test summary on the validation split
    git_commit: str = ""
    phase_times_s: dict[str, float] = field(default_factory=dict)
    # The ONNX export run by the TensorFlow-free backend: {"file", "sha256", "opset", "input", "input_shape",
    # "outputs", "head": {"file", "sha256", "hidden_activations"}, ...}; empty when not exported.
    onnx: dict[str, Any] = field(default_factory=dict)

    @property
    def input_size(self) -> tuple[int, int]:
        return self.preprocessing.input_size

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["preprocessing"] = self.preprocessing.to_dict()
        data["input_size"] = list(self.input_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["preprocessing"] = PreprocessConfig.from_dict(data.get("preprocessing", {}))
        return cls(**known)

    def save(self, folder: Path) -> Path:
        path = Path(folder) / CARD_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(model_path: Path) -> ModelCard:
    """Read and check the card beside `model_path`; raise `ModelError` with what to do otherwise."""
    model_path = Path(model_path)
    card_path = model_path.parent / CARD_NAME
    if not model_path.is_file():
        raise ModelError(
            f"Model file not found: {model_path}. Reinstall PneumoScan or pass --model with a trained .keras or "
            f".onnx file (its {CARD_NAME} beside it)."
        )
    if not card_path.is_file():
        raise ModelError(f"Model card not found: {card_path}. Every model needs its {CARD_NAME} beside it.")
    try:
        data = json.loads(card_path.read_text(encoding="utf-8-sig"))  # -sig: tolerate an editor's BOM
        if not isinstance(data, dict) or not isinstance(data.get("preprocessing", {}), dict):
            raise ValueError("not a JSON object with a preprocessing object")
        card = ModelCard.from_dict(data)
        if not 0.0 <= float(card.threshold) <= 1.0 or not float(card.temperature) > 0.0:
            raise ValueError(f"threshold {card.threshold} must lie in [0, 1] and temperature {card.temperature} be positive")
        if not isinstance(card.onnx, dict):
            raise ValueError("its onnx entry is not an object")
    except (json.JSONDecodeError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"The model card {card_path} is corrupt ({exc}).") from exc
    # A `.onnx` path is checked against the card's ONNX entry, anything else against the Keras file's.
    is_onnx = model_path.suffix.lower() == ".onnx"
    described, expected = (card.onnx.get("file", ""), card.onnx.get("sha256", "")) if is_onnx else (card.model_file, card.sha256)
    if (described or is_onnx) and described != model_path.name:
        raise ModelError(
            f"The model card describes {described or 'no ONNX file'}, not {model_path.name}; keep each model with its own card."
        )
    actual = sha256_of(model_path)
    if actual != expected:
        raise ModelError(
            f"The model file {model_path.name} does not match its model card (sha256 {actual[:12]}… "
            f"instead of {expected[:12]}…). The file is damaged or was replaced: reinstall or retrain it."
        )
    return card
