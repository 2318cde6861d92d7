"""The model card: what a model file is, how it was trained, and how it must be fed and read.

The card lives beside the `.keras` file (and its ONNX export) as `model_card.json`. The engine refuses
a model whose sha256 differs from the card's, so a swapped or half-copied file never produces a probability
(`app.core.model.bundle` checks the files a backend runs; `read_card` checks the one it is given).

Its `schema_version` says how to read it: a card without one is version 1 (every card before the field
existed); a card of a newer version than `CARD_SCHEMA` is refused rather than half understood.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from app.core.errors import ModelError
from app.core.io.preprocessing import PreprocessConfig
from app.core.model.entries import CARD_NAME, DomainEntry, FileEntry, OnnxEntry, PopulationEntry
from app.core.model.verified import MODEL_WORDING, read_verified

__all__ = ["CARD_NAME", "CARD_SCHEMA", "ModelCard", "expected_sha256", "load_card", "read_card", "sha256_of"]
CARD_SCHEMA = 1  # the card format this code reads and writes
_ENTRIES: dict[str, type[FileEntry]] = {"onnx": OnnxEntry, "domain": DomainEntry, "population": PopulationEntry}
_DERIVED = ("input_size",)  # written for readers of the JSON, read back from `preprocessing`


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
    domain: DomainEntry = field(default_factory=DomainEntry)  # {"file", "sha256", "cutoff", "not_xray_cutoff", ...}
    # The supervised population check (`app.core.model.scope`): {"file", "sha256", "cutoff", "method", "figures"}.
    population: PopulationEntry = field(default_factory=PopulationEntry)
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
    onnx: OnnxEntry = field(default_factory=OnnxEntry)
    schema_version: int = CARD_SCHEMA
    unknown: dict[str, Any] = field(default_factory=dict)  # top-level keys this version does not know, kept

    def __setattr__(self, name: str, value: Any) -> None:
        """The sub-entries are typed whatever they are given as (a dict from training, a test, `entry | {...}`)."""
        kind = _ENTRIES.get(name)
        if kind is not None and not isinstance(value, kind):
            value = kind.parse(value, name)
        object.__setattr__(self, name, value)

    @property
    def input_size(self) -> tuple[int, int]:
        return self.preprocessing.input_size

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for item in fields(self):
            if item.name != "unknown":
                value = getattr(self, item.name)
                data[item.name] = value.to_dict() if isinstance(value, (FileEntry, PreprocessConfig)) else _plain(value)
        data["schema_version"] = CARD_SCHEMA  # what this code writes, whatever it read
        return data | {"input_size": list(self.input_size)} | self.unknown

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        """ValueError/TypeError for a card that is not one; `ModelError` for a card of a newer schema."""
        version = data.get("schema_version", 1)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ValueError(f"schema_version {version!r} is not a whole number from 1")
        if version > CARD_SCHEMA:
            raise ModelError(f"The model card of {data.get('name', 'this model')} {data.get('version', '')} has schema "
                             f"version {version}, newer than the {CARD_SCHEMA} this PneumoScan reads: update PneumoScan "
                             "to run this model.")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "unknown"}
        known["preprocessing"] = PreprocessConfig.from_dict(data.get("preprocessing", {}))
        unknown = {k: v for k, v in data.items() if k not in cls.__dataclass_fields__ and k not in _DERIVED}
        return cls(**known, unknown=unknown)

    def save(self, folder: Path) -> Path:
        path = Path(folder) / CARD_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else value


def sha256_of(path: Path) -> str:
    """The sha256 a card records for a file it names (training and export write it; checks use `read_verified`)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_card(model_path: Path) -> ModelCard:
    """The card beside `model_path`, parsed and checked for sense, and that it describes `model_path`; no file
    is hashed (`read_card` hashes `model_path`, `app.core.model.bundle` the files a backend runs)."""
    model_path = Path(model_path)
    card_path = model_path.parent / CARD_NAME
    if not model_path.is_file():
        raise ModelError(MODEL_WORDING.missing.format(path=model_path))
    if not card_path.is_file():
        raise ModelError(f"Model card not found: {card_path}. Every model needs its {CARD_NAME} beside it.")
    try:
        data = json.loads(card_path.read_text(encoding="utf-8-sig"))  # -sig: tolerate an editor's BOM
        if not isinstance(data, dict) or not isinstance(data.get("preprocessing", {}), dict):
            raise ValueError("not a JSON object with a preprocessing object")
        card = ModelCard.from_dict(data)
        if not 0.0 <= float(card.threshold) <= 1.0 or not float(card.temperature) > 0.0:
            raise ValueError(f"threshold {card.threshold} must lie in [0, 1] and temperature {card.temperature} be positive")
    except (json.JSONDecodeError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"The model card {card_path} is corrupt ({exc}).") from exc
    # A `.onnx` path is described by the card's ONNX entry, anything else by the Keras file's.
    is_onnx = model_path.suffix.lower() == ".onnx"
    described = card.onnx.file if is_onnx else card.model_file
    if (described or is_onnx) and described != model_path.name:
        raise ModelError(
            f"The model card describes {described or 'no ONNX file'}, not {model_path.name}; keep each model with its own card."
        )
    return card


def expected_sha256(card: ModelCard, model_path: Path) -> str:
    """The sha256 the card records for `model_path` (its ONNX export, or its Keras file)."""
    return card.onnx.sha256 if Path(model_path).suffix.lower() == ".onnx" else card.sha256


def read_card(model_path: Path) -> ModelCard:
    """Read and check the card beside `model_path` and `model_path` itself against it; raise `ModelError` with
    what to do otherwise. (A model to run opens through `app.core.model.bundle.ModelBundle`, which hashes
    only the files its backend runs.)"""
    model_path = Path(model_path)
    card = load_card(model_path)
    read_verified(model_path.parent, model_path.name, expected_sha256(card, model_path), "model", MODEL_WORDING)
    return card
