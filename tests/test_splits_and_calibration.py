"""Patient ids, the patient-disjoint split, class weights, threshold rule, temperature and ECE."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model_training.calibration import choose_threshold, expected_calibration_error, fit_temperature, sigmoid
from model_training.splits import Sample, class_weights, list_samples, patient_id, split_train_val
from tests.helpers import KERMANY

pytestmark = pytest.mark.keras  # scikit-learn and SciPy, from the training extra


@pytest.mark.parametrize("name, patient", [
    ("IM-0115-0001.jpeg", "IM-0115"),
    ("NORMAL2-IM-0393-0001.jpeg", "NORMAL2-IM-0393"),
    ("person1_virus_6.jpeg", "person1"),
    ("person100_bacteria_475.jpeg", "person100"),
])
def test_patient_id_from_file_name(name: str, patient: str) -> None:
    assert patient_id(Path(name)) == patient


def _write_samples(root: Path) -> list[Sample]:
    for label in ("NORMAL", "PNEUMONIA"):
        (root / label).mkdir(parents=True)
    for p in range(40):
        for image in range(3):  # three images per patient, distinct bytes
            (root / "PNEUMONIA" / f"person{p}_virus_{p * 3 + image}.jpeg").write_bytes(f"p{p}-{image}".encode())
    for p in range(20):
        (root / "NORMAL" / f"IM-{p:04d}-0001.jpeg").write_bytes(f"n{p}".encode())
    # a byte-identical copy under another patient's name must land on the same side as its twin
    (root / "NORMAL" / "NORMAL2-IM-9999-0001.jpeg").write_bytes(b"n3")
    return list_samples(root)


def test_split_is_patient_disjoint_stratified_and_keeps_duplicates_together(tmp_path: Path) -> None:
    samples = _write_samples(tmp_path)
    train, val = split_train_val(samples, 0.2, seed=1)
    assert not {s.patient for s in train} & {s.patient for s in val}
    assert len(train) + len(val) == len(samples)
    share = lambda part: np.mean([s.label for s in part])  # noqa: E731
    assert abs(share(train) - share(val)) < 0.15
    side = {s.patient: ("val" if s in val else "train") for s in samples}
    assert side["IM-0003"] == side["NORMAL2-IM-9999"]
    assert split_train_val(samples, 0.2, seed=1) == (train, val)  # fixed by the seed
    assert split_train_val(samples, 0.2, seed=2) != (train, val)


def test_real_split_is_patient_disjoint() -> None:
    if not (KERMANY / "train").is_dir():
        pytest.skip("shared data absent")
    train, val = split_train_val(list_samples(KERMANY / "train"))
    assert not {s.patient for s in train} & {s.patient for s in val}
    assert 0.18 < len(val) / (len(train) + len(val)) < 0.22


def test_class_weights_balance_the_classes() -> None:
    samples = [Sample("a", 0, "a")] * 10 + [Sample("b", 1, "b")] * 30
    weights = class_weights(samples)
    assert weights[0] * 10 == pytest.approx(weights[1] * 30)
    assert weights[0] * 10 + weights[1] * 30 == pytest.approx(40)


def test_threshold_reaches_the_sensitivity_floor_and_maximises_youden() -> None:
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(300), np.ones(700)].astype(int)
    p = np.clip(np.r_[rng.normal(0.3, 0.15, 300), rng.normal(0.7, 0.15, 700)], 0, 1)
    t = choose_threshold(y, p, 0.95)
    sensitivity = np.mean(p[y == 1] >= t)
    assert sensitivity >= 0.95
    higher = np.unique(p[(p > t)])[:5]  # any higher threshold drops below the floor or lowers J
    j = lambda thr: np.mean(p[y == 1] >= thr) - np.mean(p[y == 0] >= thr)  # noqa: E731
    for other in higher:
        assert np.mean(p[y == 1] >= other) < 0.95 or j(other) <= j(t)


def test_temperature_scaling_recovers_an_overconfident_model() -> None:
    rng = np.random.default_rng(1)
    true_logits = rng.normal(0, 2, 5000)
    y = (rng.random(5000) < sigmoid(true_logits)).astype(int)
    overconfident = true_logits * 3.0
    t = fit_temperature(y, overconfident)
    assert t == pytest.approx(3.0, rel=0.15)
    assert expected_calibration_error(y, sigmoid(overconfident / t)) < expected_calibration_error(y, sigmoid(overconfident))


def test_ece_is_zero_for_perfect_bins_and_large_for_wrong_ones() -> None:
    y = np.array([0, 0, 1, 1])
    assert expected_calibration_error(y, np.array([0.0, 0.0, 1.0, 1.0])) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.array([1.0, 1.0, 0.0, 0.0])) == pytest.approx(1.0)


def test_threshold_under_shift_keeps_clean_sensitivity_and_balances_the_shifted_pool() -> None:
    from model_training.calibration import choose_threshold_under_shift

    rng = np.random.default_rng(0)
    y = np.array([0] * 200 + [1] * 200)
    clean = np.concatenate([rng.uniform(0.0, 0.3, 200), rng.uniform(0.5, 1.0, 200)])
    shifted = np.concatenate([rng.uniform(0.2, 0.6, 200), rng.uniform(0.55, 1.0, 200)])  # normals drift up
    pool_y, pool_p = np.concatenate([y, y]), np.concatenate([clean, shifted])
    threshold = choose_threshold_under_shift(y, clean, pool_y, pool_p)
    assert (clean[y == 1] >= threshold).mean() >= 0.95  # the clean sensitivity floor holds
    assert threshold > choose_threshold(y, clean)  # moved up to where the shifted normals fall below it
    assert (shifted[y == 0] < threshold).mean() > 0.8


def test_platt_scaling_recovers_a_temperature_and_an_offset() -> None:
    from model_training.calibration import fit_platt

    rng = np.random.default_rng(1)
    true_logits = rng.normal(0, 3, 20000)
    y = (rng.random(20000) < sigmoid(true_logits)).astype(int)
    observed = 2.0 * true_logits - 1.5  # over-confident and shifted towards NORMAL, as class weights do
    temperature, offset = fit_platt(y, observed)
    assert temperature == pytest.approx(2.0, rel=0.05) and offset == pytest.approx(1.5, abs=0.15)
    assert expected_calibration_error(y, sigmoid((observed + offset) / temperature)) < 0.01
    assert expected_calibration_error(y, sigmoid(observed / fit_temperature(y, observed))) > 0.03  # T alone cannot
