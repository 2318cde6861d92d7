"""Finding the labelled images and carving a patient-disjoint, class-stratified validation split.

A patient can have several images (and the collection has byte-identical copies under different
names); both are kept on one side of the split, or validation scores leak.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.io.collect import Decoded, decode_all
from app.core.io.images import is_image_path, load_model_image
from app.core.evaluate.labelled import CLASSES  # the engine's class names: label 1 = PNEUMONIA, the positive class

_PATIENT = re.compile(r"^(?P<patient>.+?)(?:-\d+|_(?:virus|bacteria)_\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Sample:
    path: str
    label: int
    patient: str


def patient_id(path: Path) -> str:
    """`IM-0115-0001` -> `IM-0115`, `NORMAL2-IM-0393-0001` -> `NORMAL2-IM-0393`, `person1_virus_6` -> `person1`."""
    match = _PATIENT.match(path.stem)
    return match.group("patient") if match else path.stem


def list_samples(folder: Path) -> list[Sample]:
    """All images under `folder/NORMAL` and `folder/PNEUMONIA`, sorted by path."""
    samples = []
    for label, name in enumerate(CLASSES):
        class_dir = Path(folder) / name
        if not class_dir.is_dir():
            raise FileNotFoundError(f"{class_dir} is missing: the data folder needs NORMAL/ and PNEUMONIA/")
        for path in sorted(class_dir.iterdir()):
            if path.is_file() and is_image_path(path):
                samples.append(Sample(str(path), label, patient_id(path)))
    return samples


def model_pixels(input_size: tuple[int, int]) -> Callable[[str | Path], np.ndarray]:
    """A reader of the model's copy of a file as the engine decodes it (8-bit grayscale), for `decode_all`."""
    return lambda path: load_model_image(path, input_size).pixels


def decode_samples(samples: Sequence[Sample], input_size: tuple[int, int],
                   bar: str | None = None) -> Decoded[Sample, np.ndarray]:
    """Each sample's model copy decoded once; the unreadable ones kept with their messages, never dropped."""
    read = model_pixels(input_size)
    return decode_all(samples, lambda sample: read(sample.path), bar=bar)


def subset(decoded: Decoded[Sample, np.ndarray], samples: Sequence[Sample]) -> Decoded[Sample, np.ndarray]:
    """The decoded images of `samples` (all among `decoded.kept`), in their order: a split without a second decode."""
    image_of = {sample.path: image for sample, image in zip(decoded.kept, decoded.images)}
    return Decoded(list(samples), [image_of[sample.path] for sample in samples])


def _groups_with_duplicates(samples: list[Sample]) -> np.ndarray:
    """Patient groups, merged wherever two files have identical bytes (union-find over the patients)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_by_hash: dict[str, str] = {}
    for sample in samples:
        digest = hashlib.sha1(Path(sample.path).read_bytes()).hexdigest()
        other = first_by_hash.setdefault(digest, sample.patient)
        parent[find(sample.patient)] = find(other)
    return np.array([find(s.patient) for s in samples])


def split_train_val(samples: list[Sample], val_fraction: float = 0.2, seed: int = 42) -> tuple[list[Sample], list[Sample]]:
    """Patient-disjoint, class-stratified split, fixed by `seed`."""
    n_splits = max(2, round(1 / val_fraction))
    labels = np.array([s.label for s in samples])
    groups = _groups_with_duplicates(samples)
    from sklearn.model_selection import StratifiedGroupKFold  # here, not at the top: train's refusals come before it

    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    train_idx, val_idx = next(splitter.split(np.zeros(len(samples)), labels, groups))
    return [samples[i] for i in sorted(train_idx)], [samples[i] for i in sorted(val_idx)]


def write_split(path: Path, samples: list[Sample]) -> None:
    """One `label<TAB>patient<TAB>path` line per image, so a split can be audited and reused."""
    lines = [f"{CLASSES[s.label]}\t{s.patient}\t{s.path}" for s in samples]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_split(path: Path) -> list[Sample]:
    samples = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            name, patient, file_path = line.split("\t")
            samples.append(Sample(file_path, CLASSES.index(name), patient))
    return samples


def class_weights(samples: list[Sample]) -> dict[int, float]:
    """Inverse-frequency weights (n / (2 n_c)) so NORMAL, the minority, counts as much as PNEUMONIA."""
    counts = np.bincount([s.label for s in samples], minlength=2)
    return {c: float(len(samples) / (2 * max(counts[c], 1))) for c in range(2)}
