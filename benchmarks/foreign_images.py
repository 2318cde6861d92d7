"""Images for the domain gate: foreign pictures it must flag, and the validation X-rays it must pass.

Shared by benchmarks/domain_gate.py and tests/test_domain_gate.py (a benchmark does not import tests).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from app.core.image_io import LoadedImage, load_image, load_image_bytes
from app.core.screening import Screener

SHARED = Path(os.environ.get("PNEUMOSCAN_SHARED", Path(__file__).resolve().parents[2] / "shared"))
KERMANY = SHARED / "data" / "kermany224"

NATURAL = ("astronaut", "coffee", "chelsea", "rocket", "camera", "moon", "brick", "grass", "hubble_deep_field",
           "immunohistochemistry", "retina", "coins", "clock", "cell")


def _png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def foreign_images() -> dict[str, LoadedImage]:
    """Natural photographs (scikit-image), uniform and noise images, and CT/MR slices (pydicom's test files)."""
    import skimage.data
    from pydicom.data import get_testdata_file

    images = {name: load_image_bytes(_png_bytes(getattr(skimage.data, name)()), f"{name}.png") for name in NATURAL}
    rng = np.random.default_rng(0)
    images["uniform gray"] = load_image_bytes(_png_bytes(np.full((512, 512), 128, np.uint8)), "u.png")
    images["uniform black"] = load_image_bytes(_png_bytes(np.zeros((512, 512), np.uint8)), "b.png")
    images["gaussian noise"] = load_image_bytes(_png_bytes(np.clip(rng.normal(128, 40, (512, 512)), 0, 255).astype(np.uint8)), "n.png")
    images["uniform noise"] = load_image_bytes(_png_bytes(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)), "c.png")
    for name in ("CT_small.dcm", "MR_small.dcm"):
        images[name] = load_image(get_testdata_file(name))
    return images


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
