"""Input-quality warnings: each check fires on its own kind of bad image and stays quiet on X-rays."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.io.images import LoadedImage, load_image
from app.core.io.quality import quality_warnings


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


def _dicom_image(**header: str) -> LoadedImage:
    fields = {"modality": "CR", "body_part": "CHEST", "view_position": "AP", "patient_age": "003Y"} | header
    return LoadedImage(_chest_like().astype(np.uint8), "DICOM", 12, 1, 0.0, **fields)


def test_a_dicom_like_the_training_data_gets_no_warning() -> None:
    assert quality_warnings(_dicom_image()) == []
    assert quality_warnings(_dicom_image(modality="DX", body_part="", view_position="PA", patient_age="")) == []
    assert quality_warnings(_dicom_image(patient_age="012M")) == []  # one year old
    assert quality_warnings(_dicom_image(patient_age="005Y")) == []  # up to the sixth birthday


@pytest.mark.parametrize("header, expected", [
    ({"modality": "CT"}, "DICOM modality CT: not a projection radiograph"),
    ({"modality": "MR"}, "DICOM modality MR"),
    ({"body_part": "KNEE"}, "Body part examined: KNEE"),
    ({"view_position": "LL"}, "Lateral view (LL)"),
    ({"patient_age": "045Y"}, "Patient age 45 years: the model was trained on children aged 1 to 5"),
    ({"patient_age": "006M"}, "Patient age 6 months"),
    ({"patient_age": "001W"}, "Patient age 1 week:"),
    ({"patient_age": "006Y"}, "Patient age 6 years"),
])
def test_each_dicom_header_check_names_its_problem(header: dict[str, str], expected: str) -> None:
    warnings = quality_warnings(_dicom_image(**header))
    assert len(warnings) == 1 and expected in warnings[0], warnings


@pytest.mark.filterwarnings("ignore:Invalid value for VR CS")  # lower case, as some devices write it
def test_header_facts_are_read_from_the_file(tmp_path) -> None:  # noqa: ANN001
    from tests.test_image_io import make_dicom

    pixels = (_chest_like() * 16).astype(np.uint16)
    path = tmp_path / "adult_lateral.dcm"
    path.write_bytes(make_dicom(pixels, Modality="CR", BodyPartExamined="chest ", ViewPosition="LL", PatientAge="045Y"))
    image = load_image(path)
    assert (image.modality, image.body_part, image.view_position, image.patient_age) == ("CR", "CHEST", "LL", "045Y")
    warnings = quality_warnings(image)
    assert [w.split(" ")[0] for w in warnings] == ["Lateral", "Patient"]


@pytest.mark.parametrize("shape", [(300, 211), (1500, 1100)])  # a sample of every pixel, and a strided one
def test_the_histogram_standard_deviation_is_the_pixels_own(shape: tuple[int, int]) -> None:
    from app.core.io.quality import _histogram_std, grey_histogram

    gray = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    sample = np.ascontiguousarray(gray[::2, ::2])
    for pixels in (gray, sample):
        histogram = grey_histogram(pixels)
        assert np.array_equal(histogram, np.bincount(pixels.ravel(), minlength=256))
        assert _histogram_std(histogram) == pytest.approx(float(pixels.std()), rel=1e-12)
