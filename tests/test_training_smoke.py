"""End-to-end training on a tiny generated data set with random base weights: both phases, resume,
finalize (card, domain statistics, plots) and evaluate. The real training never runs in CI."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from app.core.model_card import read_card
from model_training.cli import main as training_main
from model_training.splits import read_split

PLOTS = ("training_curves.png", "confusion_matrix.png", "roc.png", "precision_recall.png", "calibration.png")


def _make_dataset(root: Path, per_class: int = 12) -> None:
    """Synthetic 'X-rays': NORMAL are smooth, PNEUMONIA carry bright blotches; names carry patient ids."""
    rng = np.random.default_rng(0)
    for label in ("NORMAL", "PNEUMONIA"):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            image = np.full((224, 224), 90, np.uint8) + rng.integers(0, 30, (224, 224), dtype=np.uint8)
            if label == "PNEUMONIA":
                cv2.circle(image, (int(rng.integers(60, 160)), int(rng.integers(60, 160))), 30, 230, -1)
                name = f"person{i // 2}_bacteria_{i}.jpeg"
            else:
                name = f"IM-{i // 2:04d}-{i % 2 + 1:04d}.jpeg"
            cv2.imwrite(str(root / label / name), image)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data = tmp_path_factory.mktemp("data")
    out = tmp_path_factory.mktemp("run") / "out"
    _make_dataset(data)
    args = ["train", "--data", str(data), "--out", str(out), "--base-weights", "none",
            "--epochs-frozen", "1", "--epochs-finetune", "1", "--batch-size", "8", "--val-fraction", "0.25"]
    assert training_main(args) == 0
    return data, out


def test_training_writes_model_card_domain_and_plots(trained: tuple[Path, Path]) -> None:
    _, out = trained
    card = read_card(out / "pneumoscan_mobilenetv2.keras")  # raises if the sha256 does not match
    assert 0.0 < card.threshold <= 1.0 and card.temperature > 0
    assert card.validation_metrics["n"] == len(read_split(out / "split_val.tsv"))
    assert card.domain["file"] == "domain_stats.npz" and (out / card.domain["file"]).is_file()
    assert card.command.startswith("python -m model_training train")
    for plot in PLOTS:
        assert cv2.imread(str(out / plot)) is not None, plot
    with zipfile.ZipFile(out / "pneumoscan_mobilenetv2.keras") as archive, archive.open("model.weights.h5") as weights:
        assert "optimizer" not in h5py.File(io.BytesIO(weights.read()), "r")  # the shipped file carries no optimizer
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["frozen"]["epoch"] == 1 and state["finetune"]["epoch"] == 1


def test_split_is_patient_disjoint_and_covers_every_image(trained: tuple[Path, Path]) -> None:
    data, out = trained
    train, val = read_split(out / "split_train.tsv"), read_split(out / "split_val.tsv")
    assert not {s.patient for s in train} & {s.patient for s in val}
    assert len(train) + len(val) == len(list(data.rglob("*.jpeg")))
    assert {s.label for s in val} == {0, 1}


def test_resume_of_a_finished_run_trains_nothing_and_keeps_the_split(trained: tuple[Path, Path]) -> None:
    data, out = trained
    split_before = (out / "split_val.tsv").read_text()
    state_before = json.loads((out / "checkpoints" / "state.json").read_text())
    args = ["train", "--data", str(data), "--out", str(out), "--base-weights", "none",
            "--epochs-frozen", "1", "--epochs-finetune", "1", "--batch-size", "8", "--resume"]
    assert training_main(args) == 0
    state_after = json.loads((out / "checkpoints" / "state.json").read_text())
    assert (out / "split_val.tsv").read_text() == split_before
    assert state_after["frozen"]["history"] == state_before["frozen"]["history"]


def test_a_second_run_into_the_same_folder_needs_resume(trained: tuple[Path, Path]) -> None:
    data, out = trained
    with pytest.raises(SystemExit, match="--resume"):
        training_main(["train", "--data", str(data), "--out", str(out), "--base-weights", "none"])


def test_evaluate_writes_metrics_and_plots(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, out = trained
    assert training_main(["evaluate", "--model", str(out / "pneumoscan_mobilenetv2.keras"),
                          "--data", str(data), "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("accuracy", "sensitivity", "specificity", "precision", "f1", "auc", "ece", "threshold", "n"):
        assert key in metrics
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    assert tn + fp == 12 and fn + tp == 12 and metrics["n"] == 24
    assert metrics["accuracy"] == pytest.approx((tn + tp) / 24)
    for plot in PLOTS[1:]:
        assert (tmp_path / plot).is_file()
