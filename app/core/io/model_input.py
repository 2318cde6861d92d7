"""The model's input from a file, in one place: the model's copy of the file (`load_model_image`), then the
model card's steps (`preprocess`), with the quality warnings that go with them.

The engine, the scan and the command line all come here (training, which augments between the two steps,
calls them in the same order), so one file is one tensor everywhere. It takes the card's `PreprocessConfig`,
which holds the input size, as a plain argument: the io layer knows no model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from app.core.io.images import LoadedImage, load_model_image
from app.core.io.preprocessing import PreprocessConfig, preprocess
from app.core.io.quality import quality_warnings


@dataclass(frozen=True)
class ModelInput:
    """An image made ready for the model (thread-safe to build: NumPy and OpenCV only)."""

    tensor: np.ndarray  # float32 (H, W, 3)
    warnings: tuple[str, ...] = field(default=())


def prepare_image(image: LoadedImage, trained: PreprocessConfig, clahe: bool | None = None) -> ModelInput:
    """`image` through the steps the model was `trained` with; `clahe` forces CLAHE on or off (with a warning)."""
    config = trained if clahe is None else trained.with_clahe(clahe)
    warnings = quality_warnings(image)
    if config.clahe != trained.clahe:
        was = "with" if trained.clahe else "without"
        warnings.append(f"CLAHE forced {'on' if config.clahe else 'off'}; the model was trained {was} it.")
    return ModelInput(preprocess(image.pixels, config), tuple(warnings))


def load_model_input(path: str | os.PathLike[str], trained: PreprocessConfig, clahe: bool | None = None,
                     viewer: LoadedImage | None = None) -> ModelInput:
    """The model's copy of `path` (`viewer`: that file's full-size `load_image`, reused when no smaller copy
    pays), prepared as `prepare_image` does."""
    return prepare_image(load_model_image(path, trained.input_size, viewer), trained, clahe)


def load_and_preprocess(path: str | os.PathLike[str], config: PreprocessConfig) -> np.ndarray:
    """File -> model input tensor, without the warnings: what training's pipeline must equal (a test proves it)."""
    return preprocess(load_model_image(path, config.input_size).pixels, config)
