"""The verified model bundle (app.core.model.bundle) and the typed model card: opened once, each file read and
hashed once, the `.keras` never hashed on onnx; unknown card keys kept, a newer card schema refused."""

from __future__ import annotations

import builtins
import collections
import io
import json
import shutil
from pathlib import Path

import pytest

from app.cli import main
from app.core.errors import ModelError
from app.core.model.bundle import ModelBundle
from app.core.model.card import CARD_NAME, CARD_SCHEMA, ModelCard, load_card
from app.core.resources import sample_images


@pytest.fixture()
def model_copy(real_model_path: Path, tmp_path: Path) -> Path:
    """The bundled model's folder (card, .keras, .onnx, head, scope files) copied; returns its .keras path."""
    folder = tmp_path / "model"
    folder.mkdir()
    for path in real_model_path.parent.iterdir():
        if path.suffix in (".json", ".keras", ".onnx", ".npz") and path.is_file():
            shutil.copy(path, folder / path.name)
    return folder / real_model_path.with_suffix(".keras").name


def _opens(monkeypatch: pytest.MonkeyPatch, folder: Path) -> collections.Counter[str]:
    """Every later open of a file in `folder`, by name (numpy, pathlib and json all open through io.open)."""
    opened: collections.Counter[str] = collections.Counter()
    real = io.open

    def counting(file, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if isinstance(file, (str, Path)) and Path(file).parent == folder:
            opened[Path(file).name] += 1
        return real(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting)
    monkeypatch.setattr(io, "open", counting)
    return opened


def test_an_onnx_scan_reads_the_card_once_and_never_the_keras_file(model_copy: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(sample_images()[0], folder / "x.jpeg")
    card = json.loads((model_copy.parent / CARD_NAME).read_text(encoding="utf-8"))
    opened = _opens(monkeypatch, model_copy.parent)
    assert main(["scan", str(folder), "--out", str(tmp_path / "out.csv"), "--model", str(model_copy), "--backend", "onnx"]) == 0
    monkeypatch.undo()
    assert opened[CARD_NAME] == 1
    assert opened[model_copy.name] == 0  # the .keras: not run on onnx, so not read (nor hashed)
    named = [card["onnx"]["file"], card["onnx"]["head"]["file"], card["domain"]["file"]] + (
        [card["population"]["file"]] if card.get("population") else [])
    assert {name: opened[name] for name in named} == dict.fromkeys(named, 1)  # read once: hashed and used


def test_the_bundle_verifies_only_what_its_backend_runs(model_copy: Path) -> None:
    (model_copy).write_bytes(b"damaged")  # the .keras: the onnx backend never runs it
    bundle = ModelBundle.open(model_copy, "onnx")
    assert bundle.runs == model_copy.with_suffix(".onnx") and bundle.runs_sha256 == bundle.card.onnx.sha256
    head = model_copy.parent / bundle.card.onnx.head.file
    head.write_bytes(head.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="The Grad-CAM head .* does not match its model card"):
        ModelBundle.open(model_copy, "onnx")


def test_unknown_keys_are_kept_and_the_schema_version_written(model_copy: Path) -> None:
    path = model_copy.parent / CARD_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    assert "schema_version" not in data  # the bundled card predates the field: version 1
    data["from_the_future"] = {"a": 1}
    data["onnx"]["head"]["note"] = "kept"
    data["domain"]["extra"] = [1, 2]
    path.write_text(json.dumps(data), encoding="utf-8")
    card = load_card(model_copy)
    assert card.schema_version == 1 and card.domain.cutoff == data["domain"]["cutoff"]
    written = card.to_dict()
    assert written["from_the_future"] == {"a": 1} and written["onnx"]["head"]["note"] == "kept"
    assert written["domain"] == data["domain"] and written["schema_version"] == CARD_SCHEMA
    assert list(written["onnx"]) == list(data["onnx"])  # the keys' order as written
    assert {k: v for k, v in written.items() if k != "schema_version"} == data
    assert ModelCard.from_dict(written) == card


def test_a_card_of_a_newer_schema_is_refused(model_copy: Path) -> None:
    path = model_copy.parent / CARD_NAME
    data = json.loads(path.read_text(encoding="utf-8")) | {"schema_version": CARD_SCHEMA + 1}
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelError, match=f"schema version {CARD_SCHEMA + 1}, newer than the {CARD_SCHEMA}.*update PneumoScan"):
        ModelBundle.open(model_copy, "onnx")


def test_entries_assigned_as_dicts_are_typed(model_copy: Path) -> None:
    card = load_card(model_copy)
    card.domain = card.domain | {"not_xray_cutoff": 99.0}  # as training's refinalize does
    assert card.domain.not_xray_cutoff == 99.0 and card.domain["not_xray_cutoff"] == 99.0
    with pytest.raises(ValueError, match="its population entry is not an object"):
        card.population = ["not", "an", "object"]
