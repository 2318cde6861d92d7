"""A site's labelled X-rays for `evaluate` and `calibrate`: FOLDER/NORMAL and FOLDER/PNEUMONIA, or a labels CSV.

Everything a user can get wrong in the listing (a missing class folder, an unknown label, a listed file
that is not there) is refused here, before the model loads, with one message naming what to fix.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import PneumoScanError
from app.core.io.listing import check_folder, list_images
from app.core.labels import CLASSES  # label 1 = PNEUMONIA, the positive class

_LABELS = {"normal": 0, "0": 0, "pneumonia": 1, "1": 1}


class LabelledError(PneumoScanError):
    """The labelled folder or its labels CSV cannot be used as it is."""


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    label: int  # index in CLASSES


def read_labelled(folder: Path, labels: Path | None = None) -> list[LabelledImage]:
    """The images of `folder` with their labels, sorted by path: from its NORMAL/ and PNEUMONIA/ sub-folders,
    or from `labels` (path,label rows, paths relative to `folder`, an optional header)."""
    folder = Path(folder)
    check_folder(folder)
    return _from_csv(folder, Path(labels)) if labels else _from_folders(folder)


def _from_folders(folder: Path) -> list[LabelledImage]:
    missing = [name for name in CLASSES if not (folder / name).is_dir()]
    if missing:
        raise LabelledError(f"{folder} has no {' and no '.join(name + '/' for name in missing)} folder: a labelled folder "
                            "needs NORMAL/ and PNEUMONIA/ (or give --labels FILE.csv).")
    return [LabelledImage(path, label) for label, name in enumerate(CLASSES) for path in list_images(folder / name)]


def _from_csv(folder: Path, labels: Path) -> list[LabelledImage]:
    try:
        with open(labels, newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except FileNotFoundError:
        raise LabelledError(f"No such labels file: {labels}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LabelledError(f"Cannot read the labels file {labels} ({exc}).") from None
    if rows and [cell.strip().lower() for cell in rows[0]] == ["path", "label"]:
        rows = rows[1:]
    images, seen, missing = [], set(), []
    for number, row in enumerate(rows, 1):
        if len(row) != 2:
            raise LabelledError(f"{labels}: row {number} has {len(row)} cells; each row is path,label.")
        name, text = row[0].strip(), row[1].strip()
        if text.lower() not in _LABELS:
            raise LabelledError(f"{labels}: row {number} ({name}) has the unknown label {text!r}; use NORMAL or PNEUMONIA.")
        if name in seen:
            raise LabelledError(f"{labels}: {name} is listed twice.")
        seen.add(name)
        path = folder / name
        if not path.is_file():
            missing.append(name)
        images.append(LabelledImage(path, _LABELS[text.lower()]))
    if missing:
        raise LabelledError(f"{labels}: {len(missing)} listed files are not in {folder} ({', '.join(missing[:3])}"
                            f"{', ...' if len(missing) > 3 else ''}).")
    if not images:
        raise LabelledError(f"{labels} lists no images.")
    return sorted(images, key=lambda image: image.path.as_posix())


def class_counts(images: list[LabelledImage]) -> dict[str, int]:
    return {name: sum(image.label == label for image in images) for label, name in enumerate(CLASSES)}


def relative_name(path: Path, folder: Path) -> str:
    """An image's path as the reports write it: relative to the labelled folder, with forward slashes."""
    try:
        return Path(path).relative_to(folder).as_posix()
    except ValueError:
        return Path(path).as_posix()
