"""Opening a file for the window: the model's copy and the view layers, from the loader's decodes alone.

The engine never reads the file: the loader gives it the model's copy (`load_model_image`, what
`pneumoscan-cli predict` and `scan` score), first, so the model runs on the engine thread while the
loader decodes the full picture and builds its layers on the other core. When the model's copy is the
full decode (a small JPEG, a PNG, a DICOM), that one decode is the picture too.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

from app.core.io.images import LoadedImage, load_image, load_model_image
from app.core.io.preprocessing import PreprocessConfig
from app.ui.imaging import ImageViews, image_views


def open_file(path: Path, config: PreprocessConfig,
              input_size: tuple[int, int] | None) -> Generator[LoadedImage | ImageViews, None, None]:
    """Yields the model's copy (when the model's `input_size` is known yet), then the view layers.

    `config`: the CLAHE settings of the view (the model card's, or the defaults until it has loaded).
    """
    if input_size is None:
        yield image_views(load_image(path), config)
        return
    copy = load_model_image(path, input_size)
    yield copy
    yield image_views(copy if copy.source_size is None else load_image(path), config)


def model_copy(path: Path, input_size: tuple[int, int], picture: LoadedImage) -> LoadedImage:
    """The model's copy of a file opened before the model had loaded (`picture`: its full decode, reused if it is one)."""
    return load_model_image(path, input_size, viewer=picture)
