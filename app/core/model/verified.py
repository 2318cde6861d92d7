"""The one check that a file is the one the model card names: read once, hashed once, then used from those bytes.

Four places used to check a file against the card, each with its own copy of the hashing and its own
sentences (the card's model file, the ONNX export, the scope check, the bundle build). The sentences stay
(users and tests know them), as a `Wording` per kind of file; the reading and hashing are done here only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import ModelError


@dataclass(frozen=True)
class Wording:
    """How a failed check is told. Fields for `str.format`: what, name, path, actual, expected (12-digit
    prefixes), card (the card's path). `unnamed`/`outside` set: the file must lie in the model's own folder."""

    missing: str
    mismatch: str
    unnamed: str | None = None
    outside: str | None = None


MODEL_WORDING = Wording(
    missing="Model file not found: {path}. Reinstall PneumoScan or pass --model with a trained .keras or "
            ".onnx file (its model_card.json beside it).",
    mismatch="The model file {name} does not match its model card (sha256 {actual}… instead of {expected}…). "
             "The file is damaged or was replaced: reinstall or retrain it.")
EXPORT_WORDING = Wording(
    unnamed="The model card names no {what} file inside the model's folder ({name!r}): export the model again.",
    missing="The {what} {path} is missing: keep the files named in the model card beside the model.",
    outside="The {what} {path} points outside the model's folder; refusing to load it.",
    mismatch="The {what} {name} does not match its model card (sha256): the file is damaged or was replaced; "
             "reinstall or export the model again.")
SCOPE_WORDING = Wording(
    missing="{path} ({what}) not found. Keep the files named in the model card beside the model.",
    mismatch="{name} ({what}) does not match the model card: reinstall or retrain.")


def read_verified(folder: Path, name: str, sha256: str, what: str, wording: Wording,
                  error: type[Exception] = ModelError, card: Path | None = None) -> bytes:
    """The bytes of `folder / name` if they match `sha256`; else `error` in the `wording`'s sentence."""
    path = Path(folder) / name

    def refuse(template: str, actual: str = "") -> Exception:
        return error(template.format(what=what, name=name, path=path, actual=actual[:12], expected=str(sha256)[:12],
                                     card=card))

    confined = wording.unnamed is not None
    if confined and (not name or Path(name).name != name or name in (".", "..")):
        raise refuse(str(wording.unnamed))
    if not path.is_file():
        raise refuse(wording.missing)
    if wording.outside is not None and path.resolve().parent != Path(folder).resolve():
        raise refuse(wording.outside)
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise refuse(wording.mismatch, actual)
    return data
