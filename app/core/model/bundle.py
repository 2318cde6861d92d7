"""A model opened once: its card read once, and every file the chosen backend runs read and hashed once.

`ModelBundle.open(path, backend)` is the one way into a model. It reads `model_card.json` beside the
path, chooses the backend (`app.core.model.backend.choose_backend`), and verifies against the card the
files that backend will use, and only those: on `onnx` the `.onnx` graph and its Grad-CAM head, on `keras`
the `.keras` file, on both the domain statistics and the population check. The verified bytes stay in
the bundle, so the runtime, the scope check and the self-test take them from here instead of reading
(and hashing) the files again. The ONNX backend never hashes the `.keras` file it does not run.

`needed_files` names those files from a card alone, for whoever checks them with other words (the
bundle build, `packaging/bundle_config.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from app.core.model.backend import Backend, choose_backend
from app.core.model.card import ModelCard, load_card
from app.core.model.entries import FileEntry
from app.core.model.scope import DOMAIN, POPULATION, ScopeCheck
from app.core.model.verified import EXPORT_WORDING, MODEL_WORDING, SCOPE_WORDING, Wording, read_verified
from app.core.resources import default_model_path

ONNX_MODEL, ONNX_HEAD, KERAS_MODEL = "ONNX model", "Grad-CAM head", "model"  # as their errors name them


class Needed(NamedTuple):
    """One file a backend uses: how its errors name it, the card's entry for it, and its wording."""

    what: str
    entry: FileEntry
    wording: Wording


def keras_file(model_path: Path, card: ModelCard) -> Path:
    """The `.keras` file of `model_path`: itself, or the card's beside an `.onnx`."""
    return model_path.parent / card.model_file if model_path.suffix.lower() == ".onnx" else model_path


def needed_files(model_path: Path, card: ModelCard, backend: str) -> list[Needed]:
    """The files `backend` ("onnx" or "keras") uses, in the order they are checked."""
    if backend == "onnx":
        files = [Needed(ONNX_MODEL, card.onnx, EXPORT_WORDING), Needed(ONNX_HEAD, card.onnx.head, EXPORT_WORDING)]
    else:
        name = card.model_file if model_path.suffix.lower() == ".onnx" else model_path.name
        files = [Needed(KERAS_MODEL, FileEntry(name, card.sha256), MODEL_WORDING)]
    scope = [Needed(DOMAIN, card.domain, SCOPE_WORDING)]
    if card.domain.file:  # a population check is read only with the domain statistics it refines
        scope.append(Needed(POPULATION, card.population, SCOPE_WORDING))
    return files + [needed for needed in scope if needed.entry.file]


@dataclass(frozen=True)
class ModelBundle:
    """A model's card and the verified bytes of every file its backend uses (`what` -> bytes)."""

    model_path: Path  # the path asked for (.keras or .onnx)
    card: ModelCard
    backend: str  # "onnx" or "keras"
    files: dict[str, bytes]

    @classmethod
    def open(cls, model_path: Path | None = None, backend: str | None = None) -> ModelBundle:
        """`model_path` None: the bundled model. `backend`: "onnx", "keras" or "auto"/None (see `choose_backend`)."""
        model_path = Path(model_path) if model_path else default_model_path()
        card = load_card(model_path)
        chosen = choose_backend(model_path, card.onnx.file, backend)
        folder = model_path.parent
        files = {needed.what: read_verified(folder, needed.entry.file, needed.entry.sha256, needed.what, needed.wording)
                 for needed in needed_files(model_path, card, chosen)}
        return cls(model_path, card, chosen, files)

    @property
    def runs(self) -> Path:
        """The file the backend runs."""
        return self.model_path.parent / self.card.onnx.file if self.backend == "onnx" else keras_file(self.model_path, self.card)

    @property
    def runs_sha256(self) -> str:
        """The sha256 of the file that runs (verified)."""
        return self.card.onnx.sha256 if self.backend == "onnx" else self.card.sha256

    def scope_check(self) -> ScopeCheck | None:
        """The scope check from the verified domain and population files (None: the card names none)."""
        return ScopeCheck.from_verified(self.card.domain, self.files.get(DOMAIN), self.card.population,
                                        self.files.get(POPULATION))

    def open_runtime(self) -> Backend:
        """The network on the chosen backend, from the verified bytes (Keras: from the verified file's path,
        as Keras's public loader reads a path)."""
        if self.backend == "onnx":
            from app.core.model.head import Head
            from app.core.model.onnx_backend import OnnxBackend  # here, so that importing the engine stays instant

            return OnnxBackend(self.card, self.files[ONNX_MODEL], Head.from_bytes(self.files[ONNX_HEAD]))
        from app.core.model.keras_classifier import load_classifier

        return load_classifier(keras_file(self.model_path, self.card), self.card)
