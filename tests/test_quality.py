"""Input-quality warnings: each check fires on its own kind of bad image and stays quiet on X-rays."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.image_io import LoadedImage, load_image
from app.core.quality import quality_warnings


def _image(pixels: np.ndarray, colour: float = 0.0) -> LoadedImage:
    return LoadedImage(pixels.astype(np.uint8), "PNG", 8, 3 if colour else 1, colour)


def _chest_like(shape: tuple[int, int] = (600, 500)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    rng = np.random.default_rng(0)
    return np.clip(60 + 120 * np.sin(xx / shape[1] * np.pi) * (yy / shape[0]) + rng.normal(0, 10, shape), 0, 255)


def test_a_plausible_radiograph_gets_no_warning() -> None:
    assert quality_warnings(_image(_chest_like())) == []


@pytest.mark.parametrize("pixels, colour, expected", [
    (np.full((400, 400), 128), 0.0, "nearly uniform"),
    (np.full((400, 400), 0), 0.0, "nearly uniform"),
    (np.r_[np.full((200, 400), 110), np.full((200, 400), 140)] + np.random.default_rng(1).integers(0, 3, (400, 400)), 0.0, "low contrast"),
    (np.r_[np.full((300, 400), 255), _chest_like((100, 400))], 0.0, "saturated white"),
    (_chest_like(), 25.0, "colour image"),
    (_chest_like((100, 600)), 0.0, "aspect ratio"),
    (_chest_like((150, 180)), 0.0, "Low resolution"),
])
def test_each_check_names_its_problem(pixels: np.ndarray, colour: float, expected: str) -> None:
    warnings = quality_warnings(_image(pixels, colour))
    assert any(expected.lower() in w.lower() for w in warnings), warnings


def test_bundled_originals_raise_no_quality_warning(originals_dir) -> None:
    flagged = {p.name: quality_warnings(load_image(p)) for p in sorted(originals_dir.rglob("*.jpeg"))}
    assert len(flagged) == 100
    assert {name: w for name, w in flagged.items() if w} == {}
