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

from app.core.model.card import read_card
from model_training.cli import main as training_main
from model_training.splits import read_split

pytestmark = [pytest.mark.training, pytest.mark.keras]

PLOTS = ("training_curves.png", "confusion_matrix.png", "roc.png", "precision_recall.png", "calibration.png", "stress.png")
TRAIN = ["--base-weights", "none", "--epochs-frozen", "1", "--epochs-finetune", "2", "--swa-epochs", "2", "--batch-size", "8"]


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
    (root / "NORMAL" / "IM-0099-0001.jpeg").write_bytes(b"\xff\xd8\xff\xe0 truncated")  # listed and skipped


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data = tmp_path_factory.mktemp("data")
    out = tmp_path_factory.mktemp("run") / "out"
    _make_dataset(data)
    outside = tmp_path_factory.mktemp("outside")
    _make_outside(outside)
    args = ["train", "--data", str(data), "--out", str(out), *TRAIN, "--val-fraction", "0.25", "--model-version", "9.1.0",
            "--outside", str(outside)]
    assert training_main(args) == 0
    return data, out


def _make_outside(root: Path) -> None:
    """Another 'population': gradients with a dark band, two films per patient, listed in labels.tsv."""
    rng = np.random.default_rng(1)
    rows = ["file\tpatient"]
    for i in range(16):
        image = np.tile(np.linspace(40, 200, 224, dtype=np.uint8), (224, 1)) + rng.integers(0, 20, (224, 224), dtype=np.uint8)
        image[100:124] = 20
        cv2.imwrite(str(root / f"adult_{i}.jpeg"), image)
        rows.append(f"adult_{i}.jpeg\tP{i // 2}")
    (root / "labels.tsv").write_text("\n".join(rows) + "\n")


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
    assert state["frozen"]["epoch"] == 1 and state["finetune"]["epoch"] == 2
    assert state["finetune"]["swa_count"] == 2 and (out / "checkpoints" / "finetune_swa.npz").is_file()


def test_training_with_outside_films_fits_the_population_check(trained: tuple[Path, Path]) -> None:
    from app.core.screening import Screener

    _, out = trained
    card = read_card(out / "pneumoscan_mobilenetv2.keras")
    assert card.population["file"] == "population_check.npz" and card.population["cutoff"] <= card.population["far_cutoff"]
    assert card.domain["not_xray_cutoff"] >= card.domain["cutoff"]
    figures = card.population["figures"]
    assert figures["validation"]["n"] == len(read_split(out / "split_val.tsv")) and figures["outside_held_out"]["n"] > 0
    assert figures["counts"]["outside_patients_fit"] + figures["counts"]["outside_patients_held_out"] == 8
    assert Screener(out / "pneumoscan_mobilenetv2.keras").scope.population is not None  # verified and loaded


def test_refinalize_keeps_the_network_and_refits_the_scope_check_under_a_new_version(trained: tuple[Path, Path],
                                                                                     tmp_path: Path) -> None:
    from app.core.screening import Screener

    data, out = trained
    outside = tmp_path / "outside"
    outside.mkdir()
    _make_outside(outside)
    new = tmp_path / "refinalized"
    model = out / "pneumoscan_mobilenetv2.keras"
    assert training_main(["refinalize", "--model", str(model), "--data", str(data), "--outside", str(outside),
                          "--out", str(new), "--model-version", "9.2.0"]) == 0
    before, after = read_card(model), read_card(new / model.name)  # read_card checks each sha256
    assert after.version == "9.2.0" and after.sha256 == before.sha256 and after.threshold == before.threshold
    assert after.population["sha256"] and (new / after.population["file"]).is_file()
    assert "9.1.0's network" in after.notes and "refinalize" in after.phase_times_s
    assert Screener(new / model.name).scope.population is not None  # every file it names came along
    assert training_main(["refinalize", "--model", str(model), "--data", str(data), "--outside", str(outside),
                          "--out", str(new), "--model-version", "9.3.0"]) == 2  # an --out that is not empty


def test_card_records_version_recipe_commit_times_robustness_and_gradcam_scale(trained: tuple[Path, Path]) -> None:
    _, out = trained
    card = read_card(out / "pneumoscan_mobilenetv2.keras")
    assert card.version == "9.1.0"
    assert card.recipe["augment"] == "xray" and card.recipe["swa_epochs"] == 2 and card.recipe["epochs_finetune"] == 2
    assert "data" not in card.recipe and "out" not in card.recipe
    assert len(card.git_commit) >= 7 or card.git_commit == "unknown"
    assert set(card.phase_times_s) == {"frozen", "finetune", "finalize"} and all(t > 0 for t in card.phase_times_s.values())
    assert card.gradcam_reference is not None and card.gradcam_reference > 0
    stress = json.loads((out / "stress.json").read_text())
    assert card.robustness["worst_shift_specificity"] == stress["summary"]["worst_shift_specificity"]
    assert card.robustness["mean_ece_over_shifts"] == pytest.approx(
        np.mean([v["ece"] for k, v in stress["per_condition"].items() if k != "clean"]))
    assert "shifts" in card.threshold_rule  # calibrated under the stress suite, not on clean images alone
    assert card.onnx["file"] == "pneumoscan_mobilenetv2.onnx" and (out / card.onnx["file"]).is_file()  # exported by train


def test_stress_command_scores_exactly_the_split_under_every_shift(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, out = trained
    args = ["stress", "--model", str(out / "pneumoscan_mobilenetv2.keras"), "--data", str(data),
            "--split", str(out / "split_val.tsv"), "--out", str(tmp_path / "s")]
    assert training_main(args) == 0
    report = json.loads((tmp_path / "s" / "stress.json").read_text())
    assert report["n"] == len(read_split(out / "split_val.tsv"))
    assert len(report["per_condition"]) == 27 and "combined@1" in report["per_condition"]
    for metrics in report["per_condition"].values():
        assert set(metrics) == {"accuracy", "sensitivity", "specificity", "auc", "ece", "mean_p_normal"}
    assert cv2.imread(str(tmp_path / "s" / "stress.png")) is not None
    # Deterministic: a second run gives the same figures.
    assert training_main(args[:-1] + [str(tmp_path / "again")]) == 0
    assert json.loads((tmp_path / "again" / "stress.json").read_text())["per_condition"] == report["per_condition"]


def test_stress_refuses_a_folder_without_both_classes(trained: tuple[Path, Path], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    data, out = trained
    (tmp_path / "NORMAL").mkdir()
    (tmp_path / "PNEUMONIA").mkdir()
    for image in sorted((data / "NORMAL").iterdir())[:3]:
        (tmp_path / "NORMAL" / image.name).write_bytes(image.read_bytes())
    code = training_main(["stress", "--model", str(out / "pneumoscan_mobilenetv2.keras"), "--data", str(tmp_path),
                          "--out", str(tmp_path / "s")])
    assert code == 2 and "both classes" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_split_is_patient_disjoint_and_covers_every_image(trained: tuple[Path, Path]) -> None:
    data, out = trained
    train, val = read_split(out / "split_train.tsv"), read_split(out / "split_val.tsv")
    assert not {s.patient for s in train} & {s.patient for s in val}
    assert len(train) + len(val) == len(list(data.rglob("*.jpeg"))) - 1
    assert "IM-0099-0001.jpeg" not in (out / "split_train.tsv").read_text() + (out / "split_val.tsv").read_text()
    assert "skipped an unreadable training image" in (out / "train.log").read_text()
    assert {s.label for s in val} == {0, 1}


def test_resume_of_a_finished_run_trains_nothing_and_keeps_the_split(trained: tuple[Path, Path]) -> None:
    data, out = trained
    split_before = (out / "split_val.tsv").read_text()
    state_before = json.loads((out / "checkpoints" / "state.json").read_text())
    args = ["train", "--data", str(data), "--out", str(out), *TRAIN, "--resume"]
    assert training_main(args) == 0
    state_after = json.loads((out / "checkpoints" / "state.json").read_text())
    assert (out / "split_val.tsv").read_text() == split_before
    assert state_after["frozen"]["history"] == state_before["frozen"]["history"]
    assert read_card(out / "pneumoscan_mobilenetv2.keras").version == "9.1.0"  # the run's version, kept on resume


def test_a_second_run_into_the_same_folder_needs_resume(trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    data, out = trained
    before = sorted(p.name for p in out.iterdir())
    assert training_main(["train", "--data", str(data), "--out", str(out), "--base-weights", "none"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before


@pytest.mark.parametrize("problem", ["missing", "no_pneumonia", "empty_normal", "same_version"])
def test_train_refuses_bad_data_or_output_with_one_line_and_exit_2(problem: str, trained: tuple[Path, Path],
                                                                   tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, trained_out = trained
    out = tmp_path / "out"
    if problem == "missing":
        data = tmp_path / "nowhere"
    elif problem == "same_version":  # a finished model of the same version is never written over
        out = tmp_path / "release"
        out.mkdir()
        (out / "model_card.json").write_text((trained_out / "model_card.json").read_text())
    else:
        data = tmp_path / "data"
        (data / "NORMAL").mkdir(parents=True)
        if problem == "empty_normal":
            (data / "PNEUMONIA").mkdir()
    code = training_main(["train", "--data", str(data), "--out", str(out), "--base-weights", "none",
                          "--model-version", "9.1.0"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (out / "checkpoints").exists() and not (out / "train.log").exists()


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
    for plot in PLOTS[1:-1]:  # not training_curves.png nor stress.png
        assert (tmp_path / plot).is_file()


def test_evaluate_computes_auc_from_unrounded_logits(trained: tuple[Path, Path], tmp_path: Path) -> None:
    import csv

    from sklearn.metrics import roc_auc_score

    data, out = trained
    assert training_main(["evaluate", "--model", str(out / "pneumoscan_mobilenetv2.keras"),
                          "--data", str(data), "--out", str(tmp_path)]) == 0
    with open(tmp_path / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    y = [r["label"] == "PNEUMONIA" for r in rows]
    logits = [float(r["logit"]) for r in rows]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["auc"] == pytest.approx(roc_auc_score(y, logits), abs=1e-9)
    assert metrics["sha256"] == read_card(out / "pneumoscan_mobilenetv2.keras").sha256


def test_init_from_starts_phase_two_from_the_common_checkpoint(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, source = trained
    out = tmp_path / "ablation"
    args = ["train", "--data", str(data), "--out", str(out), "--base-weights", "none", "--epochs-frozen", "1",
            "--epochs-finetune", "1", "--swa-epochs", "0", "--augment", "basic", "--calibrate", "clean",
            "--batch-size", "8", "--init-from", str(source), "--model-version", "9.2.0"]
    assert training_main(args) == 0
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    source_state = json.loads((source / "checkpoints" / "state.json").read_text())
    assert state["frozen"]["history"] == source_state["frozen"]["history"]  # phase 1 adopted, not retrained
    assert state["finetune"]["epoch"] == 1
    assert (out / "split_val.tsv").read_text() == (source / "split_val.tsv").read_text()
    card = read_card(out / "pneumoscan_mobilenetv2.keras")
    assert card.recipe["augment"] == "basic" and card.recipe["init_from"] == str(source)
    alternatives = json.loads((out / "metrics_val.json").read_text())["calibration_alternatives"]
    assert card.threshold == alternatives["clean"]["threshold"]
    assert set(alternatives["shifted"]["stress"]) >= {"worst_shift_specificity", "mean_ece_over_shifts"}
