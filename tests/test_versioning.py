"""Two models with the same version string but different weights are never confused: the scan CSV
names the model's sha256, and a resumed scan refuses rows written by the other model."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from app.cli import main as cli_main
from tests.helpers import save_model_with_card

pytestmark = pytest.mark.keras  # two MobileNetV2s with different random weights

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"


@pytest.fixture(scope="module")
def twin_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from model_training.architecture import build_model

    root = tmp_path_factory.mktemp("twins")
    first = save_model_with_card(build_model(None, seed=1), root / "a", version="2.0.0")
    second = save_model_with_card(build_model(None, seed=2), root / "b", version="2.0.0")
    return first, second


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_same_version_different_weights_differ_by_sha256_in_the_csv(twin_models: tuple[Path, Path], tmp_path: Path) -> None:
    folder = tmp_path / "images"
    shutil.copytree(SAMPLES, folder)
    outputs = []
    for model in twin_models:
        out = tmp_path / f"{model.parent.name}.csv"
        assert cli_main(["scan", str(folder), "--out", str(out), "--model", str(model), "--backend", "keras"]) in (0, 1)
        outputs.append(_rows(out))
    first, second = outputs
    assert {r["model_version"] for r in first} == {r["model_version"] for r in second} == {"2.0.0"}
    assert len({r["model_sha256"] for r in first}) == 1 and len({r["model_sha256"] for r in second}) == 1
    assert first[0]["model_sha256"] != second[0]["model_sha256"]


def test_resume_refuses_rows_of_a_same_version_model_with_other_weights(twin_models: tuple[Path, Path],
                                                                         tmp_path: Path) -> None:
    folder = tmp_path / "images"
    shutil.copytree(SAMPLES, folder)
    out = tmp_path / "results.csv"
    first, second = twin_models
    assert cli_main(["scan", str(folder), "--out", str(out), "--model", str(first), "--backend", "keras"]) in (0, 1)
    before = out.read_bytes()
    assert cli_main(["scan", str(folder), "--out", str(out), "--resume", "--model", str(second), "--backend", "keras"]) == 2
    assert out.read_bytes() == before
