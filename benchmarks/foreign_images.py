"""The validation X-rays the domain gate must pass (the images it must flag: model_training.foreign_images).

Shared by benchmarks/domain_gate.py and tests/test_domain_gate.py (a benchmark does not import tests).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from app.core.io.images import load_image
from app.core.screening import Screener

SHARED = Path(os.environ.get("PNEUMOSCAN_SHARED", Path(__file__).resolve().parents[2] / "shared"))
KERMANY = SHARED / "data" / "kermany224"


def validation_images() -> list[Path]:
    """The validation split's X-rays in the shared data; empty when the list or the data is absent."""
    split = Path(__file__).resolve().parents[1] / "resources" / "split_val.tsv"
    if not split.is_file() or not KERMANY.is_dir():
        return []
    names = [line.split("\t") for line in split.read_text().splitlines() if line.strip()]
    return [KERMANY / "train" / label / Path(path).name for label, _, path in names]


def in_domain_share(screener: Screener, paths: list[Path]) -> float:
    prepared = [screener.prepare(load_image(p)) for p in paths]
    predictions = []
    for start in range(0, len(prepared), 64):
        predictions += screener.predict_prepared(prepared[start : start + 64])
    return float(np.mean([p.in_domain for p in predictions]))
