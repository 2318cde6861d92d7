"""Which folder training, the stress test and refinalize read (one rule: `model_training.config.training_folder`),
and the training walk's one decode of each split (`model_training.splits.decode_samples`). No TensorFlow."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from model_training.config import training_folder
from model_training.splits import decode_samples, list_samples, subset
from model_training.stress import select_samples

pytestmark = pytest.mark.keras  # the training module needs the dev extra (scipy), which the base install lacks


def _labelled(folder: Path, value: int) -> None:
    for name in ("NORMAL", "PNEUMONIA"):
        (folder / name).mkdir(parents=True)
        cv2.imwrite(str(folder / name / f"IM-{value:04d}-0001.jpeg"), np.full((64, 64), value, np.uint8))


def test_class_folders_beside_a_train_folder_are_the_data(tmp_path: Path) -> None:
    """The case the two former rules disagreed on: train's took `train/`, the stress test's took the folder."""
    _labelled(tmp_path, 10)
    _labelled(tmp_path / "train", 200)
    assert training_folder(tmp_path) == tmp_path
    assert {int(cv2.imread(s.path, cv2.IMREAD_GRAYSCALE).mean()) for s in select_samples(tmp_path, None)} == {10}


def test_a_kermany_layout_reads_its_train_folder_and_a_plain_one_itself(tmp_path: Path) -> None:
    _labelled(tmp_path / "kermany" / "train", 50)
    (tmp_path / "kermany" / "test").mkdir()
    assert training_folder(tmp_path / "kermany") == tmp_path / "kermany" / "train"
    assert len(select_samples(tmp_path / "kermany", None)) == 2
    _labelled(tmp_path / "plain", 60)
    assert training_folder(tmp_path / "plain") == tmp_path / "plain"


def test_one_class_folder_beside_train_is_refused_by_name_not_passed_over(tmp_path: Path) -> None:
    _labelled(tmp_path / "train", 50)
    (tmp_path / "NORMAL").mkdir()
    assert training_folder(tmp_path) == tmp_path
    with pytest.raises(FileNotFoundError, match="PNEUMONIA is missing"):
        select_samples(tmp_path, None)


def test_a_split_reuses_the_one_decode_and_names_the_unreadable_image(tmp_path: Path) -> None:
    _labelled(tmp_path, 90)
    (tmp_path / "NORMAL" / "IM-0099-0001.jpeg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    samples = list_samples(tmp_path)
    decoded = decode_samples(samples, (32, 32))
    assert [s.path for s, _ in decoded.errors] == [str(tmp_path / "NORMAL" / "IM-0099-0001.jpeg")]
    assert len(decoded.kept) == 2
    part = subset(decoded, decoded.kept[::-1])
    assert part.kept == decoded.kept[::-1] and all(a is b for a, b in zip(part.images, decoded.images[::-1]))
