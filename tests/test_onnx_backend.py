"""The ONNX backend: the same answers as the Keras model on real X-rays, no TensorFlow in the process,
and every file that does not fit its model card refused with one plain line (exit 2)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app import cli
from app.core.model import backend as backend_module
from app.core.errors import ModelError
from app.core.io.images import load_image
from app.core.model.card import CARD_NAME, sha256_of
from app.core.resources import sample_images
from app.core.screening import NEGATIVE, POSITIVE, Screener

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = ("tensorflow", "keras", "tf2onnx", "onnx", "tf_keras")  # onnxruntime is the allowed one
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def exported(real_model_path: Path) -> Path:
    """The bundled model, which must have its ONNX export (onnxruntime alone runs the tests on it)."""
    if "onnx" not in json.loads((real_model_path.parent / CARD_NAME).read_text(encoding="utf-8")):
        pytest.skip("the bundled model has no ONNX export yet")
    return real_model_path


@pytest.fixture(scope="module")
def both(exported: Path) -> dict[str, Screener]:
    return {name: Screener(exported, name) for name in ("keras", "onnx")}


def _assert_same_predictions(both: dict[str, Screener], paths: list[Path]) -> None:
    for start in range(0, len(paths), 16):
        prepared = [both["onnx"].prepare(load_image(p)) for p in paths[start : start + 16]]
        keras_results, onnx_results = (both[name].predict_prepared(prepared) for name in ("keras", "onnx"))
        for path, k, o in zip(paths[start : start + 16], keras_results, onnx_results):
            assert abs(k.logit - o.logit) <= TOLERANCE, path.name
            assert (k.label, k.in_domain) == (o.label, o.in_domain), path.name
            assert o.domain_score == pytest.approx(k.domain_score, rel=1e-3), path.name


@pytest.mark.keras
def test_backends_agree_on_the_samples(both: dict[str, Screener]) -> None:
    assert both["onnx"].backend.name == "onnx" and both["keras"].backend.name == "keras"
    _assert_same_predictions(both, sample_images())


@pytest.mark.keras
def test_backends_agree_on_the_originals(both: dict[str, Screener], originals_dir: Path) -> None:
    paths = sorted(p for p in originals_dir.rglob("*") if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
    assert paths
    _assert_same_predictions(both, paths)


@pytest.mark.keras
@pytest.mark.parametrize("explained", [POSITIVE, NEGATIVE])
def test_closed_form_grad_cam_equals_gradient_tape(both: dict[str, Screener], explained: str) -> None:
    for path in sample_images():
        image = load_image(path)
        keras_map, onnx_map = (both[name].explain(image, explained_class=explained) for name in ("keras", "onnx"))
        assert onnx_map.evidence.shape == keras_map.evidence.shape == (7, 7)
        peak = float(keras_map.evidence.max())
        assert np.abs(onnx_map.evidence - keras_map.evidence).max() <= TOLERANCE * max(peak, 1.0), path.name
        if peak > 0:
            assert np.abs(onnx_map.evidence / onnx_map.evidence.max() - keras_map.evidence / peak).max() <= TOLERANCE
        assert onnx_map.empty == keras_map.empty


def test_bundled_model_runs_on_onnx_by_default(real_model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(backend_module.BACKEND_ENV, raising=False)
    assert Screener(real_model_path).backend.name == "onnx"


def test_cli_on_onnx_imports_no_tensorflow(tmp_path: Path) -> None:
    """predict, heatmap and scan in one process, then a look at what it imported."""
    sample = sample_images()[0]
    folder = tmp_path / "scan"
    folder.mkdir()
    shutil.copy(sample, folder)
    calls = [["predict", str(sample), "--backend", "onnx"],
             ["heatmap", str(sample), "--out", str(tmp_path / "map.png"), "--backend", "onnx"],
             ["scan", str(folder), "--out", str(tmp_path / "scan.csv"), "--backend", "onnx"]]
    code = (f"import sys, app.cli\nfor argv in {calls!r}:\n    assert app.cli.main(argv) == 0, argv\n"
            f"print('IMPORTED', sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={k: v for k, v in os.environ.items() if k != backend_module.BACKEND_ENV})
    assert result.returncode == 0, result.stderr
    assert "IMPORTED []" in result.stdout
    assert (tmp_path / "map.png").stat().st_size > 0 and len((tmp_path / "scan.csv").read_text().splitlines()) == 2


# --- bad input: one plain line, exit 2 ----------------------------------------------------------------


@pytest.fixture()
def onnx_copy(exported: Path, tmp_path: Path) -> Path:
    """The bundled model's ONNX files, card and scope check in a folder of their own; returns the .onnx."""
    folder = tmp_path / "model"
    folder.mkdir()
    card = json.loads((exported.parent / CARD_NAME).read_text(encoding="utf-8"))
    scope = [entry["file"] for entry in (card["domain"], card.get("population", {})) if entry.get("file")]
    for name in (CARD_NAME, card["onnx"]["file"], card["onnx"]["head"]["file"], *scope):
        shutil.copy(exported.parent / name, folder / name)
    return folder / card["onnx"]["file"]


def _edit_card(folder: Path, change) -> None:  # noqa: ANN001
    card = json.loads((folder / CARD_NAME).read_text(encoding="utf-8"))
    change(card)
    (folder / CARD_NAME).write_text(json.dumps(card), encoding="utf-8")


def _refused(model: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    """Run `predict` on a sample with `model`; it must fail with exit 2 and exactly one line on stderr."""
    assert cli.main(["predict", str(sample_images()[0]), "--model", str(model), *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1, captured.err
    return captured.err


def test_a_copied_onnx_model_runs(onnx_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["predict", str(sample_images()[0]), "--model", str(onnx_copy), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] in ("ok", "warning")


def test_onnx_with_another_sha256_is_refused(onnx_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with open(onnx_copy, "ab") as handle:
        handle.write(b"\0")
    assert "does not match its model card" in _refused(onnx_copy, capsys)


def test_head_with_another_sha256_is_refused(onnx_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head = next(onnx_copy.parent.glob("*_head.npz"))
    head.write_bytes(head.read_bytes()[:-1])
    assert "Grad-CAM head" in _refused(onnx_copy, capsys)


def test_onnx_whose_input_differs_from_the_card_is_refused(onnx_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit_card(onnx_copy.parent, lambda card: card["preprocessing"].update(input_size=[256, 256]))
    assert "does not fit its model card" in _refused(onnx_copy, capsys)


@pytest.mark.keras  # the onnx package edits the graph
def test_onnx_without_the_expected_outputs_is_refused(onnx_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import onnx

    graph = onnx.load(str(onnx_copy))
    kept = [o for o in graph.graph.output if o.name != "features"]
    del graph.graph.output[:]
    graph.graph.output.extend(kept)
    onnx.save(graph, str(onnx_copy))
    _edit_card(onnx_copy.parent, lambda card: card["onnx"].update(sha256=sha256_of(onnx_copy)))
    assert "no features output" in _refused(onnx_copy, capsys)


def test_onnx_outside_the_models_folder_is_never_loaded(onnx_copy: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "elsewhere.onnx"
    shutil.move(onnx_copy, outside)
    _edit_card(onnx_copy.parent, lambda card: card["onnx"].update(file="../elsewhere.onnx"))
    keras_path = onnx_copy.with_suffix(".keras")
    keras_path.write_bytes(b"")  # the card's Keras file only needs to be there for --model; it is never loaded
    _edit_card(onnx_copy.parent, lambda card: card.update(sha256=sha256_of(keras_path)))
    assert "inside the model's folder" in _refused(keras_path, capsys, "--backend", "onnx")
    onnx_copy.symlink_to(outside)  # a link in the folder to a file outside it
    _edit_card(onnx_copy.parent, lambda card: card["onnx"].update(file=onnx_copy.name))
    assert "outside the model's folder" in _refused(keras_path, capsys, "--backend", "onnx")


def test_keras_backend_without_tensorflow_names_the_extra(onnx_copy: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_module, "tensorflow_installed", lambda: False)
    assert "pneumoscan[keras]" in _refused(onnx_copy, capsys, "--backend", "keras")


def test_keras_file_without_export_or_tensorflow_says_how_to_export(test_model_path: Path, capsys: pytest.CaptureFixture[str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_module, "tensorflow_installed", lambda: False)
    assert "python -m model_training export --model" in _refused(test_model_path, capsys)
    monkeypatch.undo()
    assert "has no ONNX export" in _refused(test_model_path, capsys, "--backend", "onnx")


def test_unknown_backend_from_the_environment(onnx_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(backend_module.BACKEND_ENV, "tflite")
    with pytest.raises(ModelError, match="Unknown backend"):
        Screener(onnx_copy)


def test_explaining_the_predicted_class_takes_one_onnx_run(real_screener) -> None:  # noqa: ANN001
    """The closed form explains NORMAL from the same run that decided it: no second pass on the drop path."""
    if real_screener.backend.name != "onnx":
        pytest.skip("the bundled model has no ONNX export")
    normal = next(path for path in sample_images() if path.name.startswith("NORMAL"))
    image = load_image(normal)
    session, runs = real_screener.backend.session, []
    real_run = session.run

    class Counting:
        def run(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            runs.append(1)
            return real_run(*args, **kwargs)

    real_screener.backend.session = Counting()
    try:
        predicted = real_screener.explain(image, explained_class=None)
    finally:
        real_screener.backend.session = session
    assert len(runs) == 1 and predicted.prediction.label == predicted.explained_class == NEGATIVE
    asked = real_screener.explain(image, explained_class=NEGATIVE)
    assert np.array_equal(predicted.evidence, asked.evidence) and predicted.prediction == asked.prediction
