"""Opening a file for the window: the model's copy and the view layers, from the loader's decodes alone.

The engine never reads the file: the loader gives it the model's copy (`load_model_image`, what
`pneumoscan-cli predict` and `scan` score), first, so the model runs on the engine thread while the
loader decodes the full picture and builds its layers on the other core. When the model's copy is the
full decode (a small JPEG, a PNG, a DICOM), that one decode is the picture too.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.core.errors import describe_error
from app.core.io.images import LoadedImage, load_image, load_model_image
from app.core.io.preprocessing import PreprocessConfig
from app.ui.imaging import ImageViews, clahe_settings, image_views
from app.ui.worker import Worker, WorkerPool, as_generator, start_worker


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


class FileOpener(QObject):
    """The loader's workers for the file on screen, on a pool of their own; their results as signals.

    A newer file quits the older one's worker (not started yet, it never reads its file). A file opened
    before the model's card was known gets, once both are there, its CLAHE layer with the card's settings
    and its model's copy, both from the decoded picture (`follow_card`).
    """

    copy_made = Signal(int, object)  # load request, the model's copy (LoadedImage)
    views_made = Signal(int, object)  # load request, ImageViews
    views_rebuilt = Signal(int, object)  # load request, ImageViews of the same image with the card's CLAHE
    failed = Signal(int, object, str)  # load request, path, message: the file does not open
    copy_failed = Signal(str)  # message: the picture on screen opened, its model's copy did not

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = WorkerPool(self)
        self._loading: Worker | None = None
        self._request = 0  # the newest load: a later failure of an older file's copy is not said

    def open(self, request: int, path: Path, card: Any) -> None:
        """`card`: the model's card, None while it loads (the view's CLAHE defaults, no model's copy yet)."""
        self._quit_loading()
        self._request = request
        work = open_file(path, card.preprocessing if card else PreprocessConfig(), card.input_size if card else None)
        self._loading = start_worker(
            self.pool, work, self,
            yielded=lambda part: (self.views_made if isinstance(part, ImageViews) else self.copy_made).emit(request, part),
            errored=lambda exc: self.failed.emit(request, path, describe_error(exc)))

    def follow_card(self, request: int, path: Path, card: Any, views: ImageViews, wants_copy: bool) -> None:
        if views.clahe_settings != clahe_settings(card.preprocessing):
            start_worker(self.pool, as_generator(image_views, views.image, card.preprocessing), self,
                         returned=lambda rebuilt: self.views_rebuilt.emit(request, rebuilt))
        if wants_copy:
            start_worker(self.pool, as_generator(model_copy, path, card.input_size, views.image), self,
                         returned=lambda copy: self.copy_made.emit(request, copy),
                         errored=lambda exc: self._copy_failed(request, exc))

    def _copy_failed(self, request: int, exc: BaseException) -> None:
        if request == self._request:
            self.copy_failed.emit(describe_error(exc))

    def _quit_loading(self) -> None:
        if self._loading is not None and not self._loading.done:
            self._loading.quit()

    def shutdown(self) -> None:
        self._quit_loading()
        self.pool.shutdown()
