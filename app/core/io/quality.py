"""Cheap checks on the raw image before the model, each with a specific warning.

They catch what the model would happily score anyway: blank or burned-out frames, flat contrast,
photographs, strips and thumbnails. Thresholds leave every image of the bundled originals unflagged.
A DICOM header also says what the pixels cannot: the modality, the body part, a lateral view, and
the patient's age, while the model knows only frontal chest radiographs of children aged 1 to 5.
"""

from __future__ import annotations

import re

import cv2
import numpy as np

from app.core.io.images import LoadedImage

MIN_STD = 8.0  # 8-bit units; an exposed chest has tens
MIN_PERCENTILE_SPAN = 40  # 1st to 99th percentile
MAX_SATURATED = 0.5  # share of pixels at >= 250
MAX_COLOUR_DEVIATION = 6.0  # mean |channel - gray|; JPEG noise on gray images stays below 2
MAX_ASPECT = 2.5
LOW_RESOLUTION = 200
RADIOGRAPHY = {"CR", "DX", "DR", "RG"}  # DICOM modalities of projection radiographs
CHEST_WORDS = ("CHEST", "THORAX", "LUNG")
LATERAL_VIEWS = {"LL", "RL", "LLD", "RLD", "LAT", "LATERAL"}
TRAINED_AGES_YEARS = (1.0, 6.0)  # Kermany: children aged 1 to 5 (up to the 6th birthday)
AGE_UNITS = {"D": (365.25, "day"), "W": (52.18, "week"), "M": (12.0, "month"), "Y": (1.0, "year")}


def quality_warnings(image: LoadedImage) -> list[str]:
    """Specific warnings for `image`; an empty list means nothing looked wrong."""
    pixels = image.pixels
    step = max(1, max(pixels.shape) // 512)
    sample = np.ascontiguousarray(pixels[::step, ::step])
    histogram = grey_histogram(sample)  # percentiles and the standard deviation from it: 10x cheaper
    warnings: list[str] = []
    std = _histogram_std(histogram)
    if std < MIN_STD:
        warnings.append(f"The image is nearly uniform (standard deviation {std:.1f} of 255): blank, or not an exposure.")
    else:
        cumulative = np.cumsum(histogram) / sample.size
        low, high = np.searchsorted(cumulative, 0.01), np.searchsorted(cumulative, 0.99)
        if high - low < MIN_PERCENTILE_SPAN:
            warnings.append(f"Very low contrast: 98 % of pixels lie within {high - low:.0f} of 255 grey levels.")
    saturated = float(histogram[250:].sum() / sample.size)
    if saturated > MAX_SATURATED:
        warnings.append(f"{saturated:.0%} of the image is saturated white: over-exposed or a burned-in overlay.")
    if image.colour_deviation > MAX_COLOUR_DEVIATION:
        warnings.append("A colour image that is not grayscale-like: X-rays are grayscale, this may be a photograph.")
    width, height = image.full_size  # the file's size, also when the model's copy was decoded reduced
    aspect = max(width, height) / min(width, height)
    if aspect > MAX_ASPECT:
        warnings.append(f"Extreme aspect ratio ({width} x {height}): a chest radiograph is close to square.")
    if min(width, height) < LOW_RESOLUTION:
        warnings.append(f"Low resolution ({width} x {height} pixels): fine detail is lost.")
    return list(image.warnings) + warnings + header_warnings(image)


def grey_histogram(gray: np.ndarray) -> np.ndarray:
    """Counts of the 256 grey levels of an 8-bit image (OpenCV's histogram: half the time of `np.bincount`, which
    first widens every pixel to 64 bits; float32 counts are exact below 2**24 pixels)."""
    if gray.size >= 1 << 24:
        return np.bincount(gray.ravel(), minlength=256)
    return cv2.calcHist([gray], [0], None, [256], [0, 256]).ravel().astype(np.int64)


def _histogram_std(histogram: np.ndarray) -> float:
    """The pixels' standard deviation (as `ndarray.std`) from their histogram."""
    levels = np.arange(256, dtype=np.float64)
    count = float(histogram.sum())
    mean = float(histogram @ levels) / count
    return float(np.sqrt(float(histogram @ (levels - mean) ** 2) / count))


def header_warnings(image: LoadedImage) -> list[str]:
    """What the DICOM header says is outside the training data (nothing for other formats)."""
    warnings: list[str] = []
    if image.modality and image.modality not in RADIOGRAPHY:
        warnings.append(f"DICOM modality {image.modality}: not a projection radiograph (CR or DX); "
                        "the model knows chest X-rays only.")
    if image.body_part and not any(word in image.body_part for word in CHEST_WORDS):
        warnings.append(f"Body part examined: {image.body_part}; the model knows chest X-rays only.")
    if image.view_position in LATERAL_VIEWS:
        warnings.append(f"Lateral view ({image.view_position}); the model was trained on frontal "
                        "(anterior-posterior) views.")
    age = re.fullmatch(r"(\d{3})([DWMY])", image.patient_age)
    if age:
        count, (per_year, unit) = int(age.group(1)), AGE_UNITS[age.group(2)]
        if not TRAINED_AGES_YEARS[0] <= count / per_year < TRAINED_AGES_YEARS[1]:
            warnings.append(f"Patient age {count} {unit}{'s' if count != 1 else ''}: the model was trained on "
                            "children aged 1 to 5 years.")
    return warnings
