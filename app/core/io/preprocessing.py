"""The one preprocessing pipeline: grayscale -> optional CLAHE -> resize -> model scaling.

The training module builds its tf.data pipeline on `preprocess`, and the app predicts with it, using
the steps its model card records; a test proves both give the same tensor for the same file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import cv2
import numpy as np


SCALINGS = ("mobilenet_v2",)  # x / 127.5 - 1, as keras.applications.mobilenet_v2.preprocess_input


@dataclass(frozen=True)
class PreprocessConfig:
    """The steps a model was trained with; stored in its model card and applied before every prediction."""

    clahe: bool = False
    clahe_clip_limit: float = 2.0
    clahe_tile_grid: int = 8
    input_size: tuple[int, int] = (224, 224)  # (height, width)
    scaling: str = "mobilenet_v2"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_size"] = list(self.input_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "input_size" in known:
            known["input_size"] = tuple(int(v) for v in known["input_size"])
        config = cls(**known)
        if config.scaling not in SCALINGS:
            raise ValueError(f"Unknown scaling {config.scaling!r}; known: {', '.join(SCALINGS)}")
        return config

    def with_clahe(self, enabled: bool) -> PreprocessConfig:
        return replace(self, clahe=enabled)


def apply_clahe(gray: np.ndarray, clip_limit: float = 2.0, tile_grid: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of an 8-bit grayscale image (viewer and model)."""
    clahe = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(int(tile_grid), int(tile_grid)))
    return clahe.apply(np.ascontiguousarray(gray, dtype=np.uint8))


def resize_to_input(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Stretch to the model input without keeping the aspect ratio, as the training images were made.

    Area averaging when shrinking (an anti-aliased downscale, like the data set's bilinear resize of
    the originals); bilinear when enlarging. Identity when the size already matches.
    """
    height, width = size
    if gray.shape[:2] == (height, width):
        return gray
    shrinking = gray.shape[0] > height or gray.shape[1] > width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(gray, (width, height), interpolation=interpolation)


# x / 127.5 - 1 of every grey level, in float32 as the arithmetic on the image gives it, for each of the 3 channels
_MOBILENET_V2 = np.repeat((np.arange(256, dtype=np.float32) * np.float32(1.0 / 127.5) - np.float32(1.0))[:, None], 3, 1)


def scale_for_model(gray: np.ndarray, scaling: str = "mobilenet_v2") -> np.ndarray:
    """uint8 (H, W) -> float32 (H, W, 3) in the range the ImageNet backbone expects, in one pass (a table look-up
    per pixel: no float copy of the image, no second copy for the channels)."""
    if scaling != "mobilenet_v2":
        raise ValueError(f"Unknown scaling {scaling!r}")
    return np.take(_MOBILENET_V2, gray, axis=0)


def preprocess(gray: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """Full pipeline for one 8-bit grayscale image; returns the model's float32 input tensor."""
    if gray.dtype != np.uint8 or gray.ndim != 2:
        raise ValueError(f"preprocess expects 2-D uint8 grayscale, got {gray.dtype} {gray.shape}")
    if config.clahe:
        gray = apply_clahe(gray, config.clahe_clip_limit, config.clahe_tile_grid)
    gray = resize_to_input(gray, config.input_size)
    return scale_for_model(gray, config.scaling)
