"""The out-of-distribution gate on the real model: foreign images are flagged, X-rays are not.

Also shows the test can fail: a gate with random statistics (same cut-off) breaks the assertions.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from app.core.domain import DomainGate
from app.core.image_io import LoadedImage, load_image, load_image_bytes
from app.core.screening import Screener
from tests.helpers import KERMANY

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
    split = Path(__file__).resolve().parents[1] / "resources" / "split_val.tsv"
    if not split.is_file() or not KERMANY.is_dir():
        pytest.skip("validation split list or shared data absent")
    names = [line.split("\t") for line in split.read_text().splitlines() if line.strip()]
    return [KERMANY / "train" / label / Path(path).name for label, _, path in names]


def flagged_share(screener: Screener, images: dict[str, LoadedImage]) -> dict[str, bool]:
    return {name: not screener.predict(image).in_domain for name, image in images.items()}


def in_domain_share(screener: Screener, paths: list[Path]) -> float:
    prepared = [screener.prepare(load_image(p)) for p in paths]
    predictions = []
    for start in range(0, len(prepared), 64):
        predictions += screener.predict_prepared(prepared[start : start + 64])
    return float(np.mean([p.in_domain for p in predictions]))


def test_every_foreign_image_is_outside_the_domain(real_screener: Screener) -> None:
    flagged = flagged_share(real_screener, foreign_images())
    assert [name for name, out in flagged.items() if not out] == []


def test_foreign_images_get_a_warning_status_and_reason(real_screener: Screener) -> None:
    prediction = real_screener.predict(foreign_images()["chelsea"])
    assert prediction.status == "warning"
    assert prediction.display_label == "outside the model's domain"
    assert any("domain" in w for w in prediction.warnings)


def test_at_least_99_percent_of_validation_xrays_are_in_domain(real_screener: Screener) -> None:
    assert in_domain_share(real_screener, validation_images()) >= 0.99


def test_bundled_originals_are_in_domain(real_screener: Screener, originals_dir: Path) -> None:
    outside = [p.name for p in sorted(originals_dir.rglob("*.jpeg")) if not real_screener.predict(load_image(p)).in_domain]
    assert outside == []


def test_a_gate_with_random_statistics_fails_these_assertions(real_screener: Screener, monkeypatch) -> None:
    gate = real_screener.gate
    rng = np.random.default_rng(0)
    d = gate.mean.shape[0]
    noise = rng.normal(size=(d, d)) / np.sqrt(d)
    random_gate = DomainGate(rng.normal(size=d) * gate.mean.std() + gate.mean.mean(), noise @ noise.T, gate.cutoff)
    monkeypatch.setattr(real_screener, "gate", random_gate)
    foreign = flagged_share(real_screener, foreign_images())
    xrays = in_domain_share(real_screener, validation_images()[:200])
    assert not (all(foreign.values()) and xrays >= 0.99)
