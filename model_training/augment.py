"""Training augmentation that looks like other hospitals' X-rays, drawn from the stress test's own shifts.

`basic` is 1.0.0's small jitter (rotation, translation, zoom, brightness, contrast). `xray` adds what
the stress test showed the model is fragile to: a random resized crop, rotation and translation in
one warp; exposure, contrast and gamma within +-30 %; blur or sharpening, noise, JPEG re-compression,
lost resolution and another windowing, each now and then. It runs on the cached 8-bit image before
the model's own preprocessing (CLAHE, scaling), as a real acquisition change would.
No horizontal flips: a mirrored chest puts the heart on the right, and X-rays are never shown mirrored.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from model_training import shifts

AUGMENTATIONS = ("none", "basic", "xray")


def _affine(gray: np.ndarray, rng: np.random.Generator, scale: tuple[float, float], aspect: tuple[float, float],
            max_angle: float, max_shift: float) -> np.ndarray:
    """Random resized crop + rotation + translation as one warp (one interpolation, edges replicated)."""
    height, width = gray.shape
    area = rng.uniform(*scale)
    ratio = math.exp(rng.uniform(math.log(aspect[0]), math.log(aspect[1])))
    zoom_x, zoom_y = 1.0 / math.sqrt(area * ratio), 1.0 / math.sqrt(area / ratio)  # > 1: a crop, enlarged
    angle = math.radians(rng.uniform(-max_angle, max_angle))
    cos, sin = math.cos(angle), math.sin(angle)
    linear = np.array([[cos * zoom_x, -sin * zoom_y], [sin * zoom_x, cos * zoom_y]])
    centre = np.array([width / 2.0, height / 2.0])
    shift = rng.uniform(-max_shift, max_shift, 2) * np.array([width, height])
    offset = centre + shift - linear @ centre
    matrix = np.hstack([linear, offset[:, None]])
    return cv2.warpAffine(gray, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _tone(gray: np.ndarray, rng: np.random.Generator, spread: float) -> np.ndarray:
    """Exposure, contrast and gamma, each drawn within +-`spread`, applied as one look-up table."""
    levels = np.arange(256, dtype=np.float64) / 255.0
    gamma = math.exp(rng.uniform(math.log(1 - spread), math.log(1 + spread)))
    contrast = rng.uniform(1 - spread, 1 + spread)
    exposure = rng.uniform(1 - spread, 1 + spread)
    curve = (levels ** gamma) * exposure
    curve = 0.5 + (curve - 0.5) * contrast
    return cv2.LUT(gray, np.clip(np.rint(curve * 255.0), 0, 255).astype(np.uint8))


def basic(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = _affine(gray, rng, scale=(0.83, 1.0), aspect=(1.0, 1.0), max_angle=10.0, max_shift=0.05)
    return _tone(out, rng, 0.1)


def xray(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = _affine(gray, rng, scale=(0.7, 1.0), aspect=(0.85, 1.15), max_angle=12.0, max_shift=0.06)
    out = _tone(out, rng, 0.3)
    if rng.random() < 0.2:
        out = shifts.window(out, rng.uniform(0.0, 1.0), rng)
    detail = rng.random()
    if detail < 0.25:
        out = shifts.blur(out, rng.uniform(0.2, 1.0), rng)
    elif detail < 0.5:
        out = shifts.sharpen(out, rng.uniform(0.2, 1.0), rng)
    if rng.random() < 0.3:
        out = shifts.resample(out, rng.uniform(0.3, 1.0), rng)
    if rng.random() < 0.3:
        out = shifts.noise(out, rng.uniform(0.2, 1.0), rng)
    if rng.random() < 0.4:
        out = shifts.jpeg(out, rng.uniform(0.3, 1.0), rng)
    return out


def augmenter(kind: str):
    """The augmentation function for a `--augment` choice (None for `none`)."""
    if kind not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {kind!r}; choose from {', '.join(AUGMENTATIONS)}")
    return {"none": None, "basic": basic, "xray": xray}[kind]
