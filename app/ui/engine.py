"""Background work for the GUI: the GUI thread never loads the model, decodes an image or runs TensorFlow.

* `Engine` owns one QThread with one `_Worker` on it. That thread holds the `Screener` and runs every
  TensorFlow call (model loading, prediction + Grad-CAM, scan batches), so only one inference ever runs
  at a time without a lock. Requests are queued signals; results come back as queued signals.
* A folder scan is stepped one batch per event on that thread (`ScanRequest.start` is a generator), so a
  single-image request made during a scan is served between two batches, and Cancel is a
  `threading.Event` checked before each batch: stopping the generator closes the CSV with every
  finished row in it.
* An explain request carries an id; the worker skips requests that are older than the newest one
  (the user moved on), and the window drops any result whose id is not the one it waits for.
* The model scores the file's own model copy (`load_model_image`, a reduced JPEG decode), as
  `pneumoscan-cli predict` and `scan` do, so one file has one probability everywhere. The window asks
  for it when the file is dropped, so the engine reads that copy while `ImageLoader` decodes the
  full-size picture for the viewer: on a 2-core laptop the two run side by side. The heat map is
  coloured for the full picture's geometry (at most `HEAT_MAX_SIDE` px, scaled by the viewer).
* `ImageLoader` decodes files and builds their view layers (plain and CLAHE) on a one-thread
  QThreadPool (queued, not-yet-started loads are dropped when a newer one arrives), so an image
  appears even while the model is still loading. The worker colours each Grad-CAM map on the engine
  thread too, so the GUI thread only switches and blends finished layers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Qt, QThread, QThreadPool, Signal, Slot

from app.core.errors import PneumoScanError, describe_error
from app.core.io.images import LoadedImage, load_image, load_model_image
from app.core.io.preprocessing import PreprocessConfig
from app.core.scan.folder import ScanRequest
from app.ui.imaging import heat_layer, image_views


@dataclass
class ScanJob:
    """A GUI scan: the CLI's `ScanRequest` (same defaults, same checks, same CSV) and its Cancel switch."""

    request: ScanRequest
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def out_csv(self) -> Path:
        return self.request.csv_path


@dataclass(frozen=True)
class ScanEnd:
    job: ScanJob
    cancelled: bool
    done: int
    total: int
    elapsed_s: float


class _EngineThread(QThread):
    """A QThread whose event loop runs inside one Python call.

    With QThread's default C++ `run()`, PySide gives every slot call on the thread a fresh Python
    thread state, so `threading.local` data dies between two calls. TensorFlow keeps its graph-building
    context there, and tracing a second tf.function in a later slot call crashed the process
    (segmentation fault). Running `exec()` from a Python `run()` keeps one thread state for the
    thread's whole life.
    """

    def run(self) -> None:
        self.exec()


class _Worker(QObject):
    """Lives on the engine thread; every method below runs there."""

    model_loaded = Signal(object)  # ModelCard
    model_failed = Signal(str)
    site_changed = Signal(str, str)  # path ("" for none), `SiteCalibration.describe()` ("" for none)
    site_failed = Signal(str, str)  # path, message
    warmed_up = Signal()
    explained = Signal(int, object, object)  # request id, Explanation, its heat layer (QImage)
    explain_failed = Signal(int, str)
    scan_progress = Signal(object, object)  # ScanJob, ScanUpdate
    scan_finished = Signal(object)  # ScanEnd
    scan_failed = Signal(object, str)  # ScanJob, message
    _step = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.screener: Any = None
        self.model_error = "The model is not loaded."
        self.latest_request = 0  # set by the GUI thread (an int store is atomic): older requests are stale
        self._scan: tuple[ScanJob, Any] | None = None
        self._last_update: Any = None
        self._model_copy: tuple[tuple[str, int], LoadedImage] | None = None  # ((path, source), the model's copy)
        self._step.connect(self._scan_step, Qt.ConnectionType.QueuedConnection)

    @Slot(object, str)
    def load(self, source: object, site: str = "") -> None:
        """`source`: a model path (None for the default) or a ready `Screener` to adopt; `site`: a site
        calibration to apply once it has loaded ("" for none)."""
        try:
            if isinstance(source, (str, Path)) or source is None:
                from app.core.screening import Screener  # TensorFlow is imported here, off the GUI thread

                self.screener = Screener(Path(source) if source else None)
            else:
                self.screener = source
        except Exception as exc:  # noqa: BLE001 - any failure must reach the user as a message
            self.screener = None
            self.model_error = describe_error(exc)
            self.model_failed.emit(self.model_error)
            return
        self.model_loaded.emit(self.screener.card)
        if site:
            self.set_site(site)
        self._warm_up()

    @Slot(str)
    def set_site(self, site: str) -> None:
        """Reopen the model with the site calibration `site` ("" for none); a refused file changes nothing."""
        if self.screener is None:
            self.site_failed.emit(site, self.model_error)
            return
        try:
            from app.core.screening import Screener

            screener = Screener(self.screener.model_path, self.screener.backend.name, site=Path(site) if site else None)
        except Exception as exc:  # noqa: BLE001 - edited, foreign or unreadable: said, and the old state kept
            self.site_failed.emit(site, describe_error(exc))
            return
        self.screener = screener
        self.site_changed.emit(site, screener.site.describe() if screener.site else "")

    def _warm_up(self) -> None:
        """Trace the compiled graphs once on a synthetic image, so the user's first image is fast."""
        if self.latest_request == 0:  # a queued real request would trace them anyway
            ramp = np.tile(np.linspace(0, 255, 256, dtype=np.float32), (256, 1)).astype(np.uint8)
            image = LoadedImage(ramp, "synthetic", 8, 1, 0.0)
            try:
                self.screener.explain(image, None, None)
                self.screener.predict(image)
            except Exception:  # noqa: BLE001 - warm-up is an optimisation; real requests report errors
                pass
        self.warmed_up.emit()

    @Slot(int, str, object, str, int)
    def explain(self, request: int, path: str, image: LoadedImage | None, explained_class: str, source: int) -> None:
        """`image`: the viewer's decode of `path`, if it is there yet; `source`: which opening of the file
        (the model copy is kept while it stays the same); `explained_class` "" (a queued signal carries
        no None): the predicted class."""
        if request < self.latest_request:
            return  # the user has already asked for something newer
        if self.screener is None:
            self.explain_failed.emit(request, self.model_error)
            return
        try:
            copy = self.model_copy(Path(path), image, source)
            shape = (copy.full_size[1], copy.full_size[0])  # the viewer's picture, whatever scale was decoded
            explanation = self.screener.explain(copy, None, explained_class or None, shape)
            heat = heat_layer(explanation, shape)
        except Exception as exc:  # noqa: BLE001
            self.explain_failed.emit(request, describe_error(exc))
            return
        self.explained.emit(request, explanation, heat)

    def model_copy(self, path: Path, image: LoadedImage | None, source: int) -> LoadedImage:
        """What the model scores for the file on screen; kept while it is, so another explained class reads nothing."""
        key = (str(path), source or id(image))
        if self._model_copy is None or self._model_copy[0] != key:
            self._model_copy = (key, load_model_image(path, self.screener.card.input_size, viewer=image))
        return self._model_copy[1]

    @Slot(object)
    def start_scan(self, job: ScanJob) -> None:
        if self._scan is not None:
            self.scan_failed.emit(job, "A scan is already running.")
            return
        if self.screener is None:
            self.scan_failed.emit(job, self.model_error)
            return
        try:
            job.request.check()  # the CLI's refusals: never a CSV over an input, never an unrelated file
        except Exception as exc:  # noqa: BLE001
            self.scan_failed.emit(job, describe_error(exc))
            return
        self._scan, self._last_update = (job, job.request.start(self.screener)), None
        self._step.emit()

    @Slot()
    def _scan_step(self) -> None:
        if self._scan is None:
            return
        job, generator = self._scan
        if job.cancel.is_set():
            self._end_scan(cancelled=True)
            return
        try:
            update = next(generator)
        except StopIteration:
            self._end_scan(cancelled=False)
            return
        except Exception as exc:  # noqa: BLE001 - not a folder, CSV not writable, ...
            self.close_scan()
            message = describe_error(exc)
            if isinstance(exc, OSError) and not isinstance(exc, PneumoScanError):
                message = f"Cannot write {job.out_csv}: {exc.strerror or exc}"
            self.scan_failed.emit(job, message)
            return
        self._last_update = update
        self.scan_progress.emit(job, update)
        self._step.emit()  # the next batch is a new event: queued explain requests get served first

    def _end_scan(self, cancelled: bool) -> None:
        job = self._scan[0] if self._scan else None
        last = self._last_update
        self.close_scan()
        done, total, elapsed = (last.done, last.total, last.elapsed_s) if last is not None else (0, 0, 0.0)
        self.scan_finished.emit(ScanEnd(job, cancelled and (last is None or done < total), done, total, elapsed))

    def close_scan(self) -> None:
        """Stop the generator: its `with` blocks close the CSV and cancel pending decodes."""
        if self._scan is not None:
            _, generator = self._scan
            self._scan = None
            generator.close()


class Engine(QObject):
    """The GUI's handle on the engine thread. Create it, call `load`, connect the signals."""

    model_loaded = Signal(object)  # ModelCard
    model_failed = Signal(str)
    site_changed = Signal(str, str)  # path, description ("" for none)
    site_failed = Signal(str, str)  # path, message
    warmed_up = Signal()
    explained = Signal(int, object, object)  # request id, Explanation, its heat layer (QImage)
    explain_failed = Signal(int, str)
    scan_progress = Signal(object, object)
    scan_finished = Signal(object)
    scan_failed = Signal(object, str)

    _load = Signal(object, str)
    _set_site = Signal(str)
    _explain = Signal(int, str, object, str, int)
    _start_scan = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.card: Any = None
        self.error: str | None = None
        self.ready = False
        self.scan_job: ScanJob | None = None
        self.site = ""  # the path of the site calibration in force ("" for the model card's)
        self.site_description = ""
        self._request = 0
        self._source: object = None
        self._site_request = ""
        self._load_pending = False
        self._thread = _EngineThread()
        self._thread.setObjectName("pneumoscan-engine")
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._load.connect(self._worker.load)
        self._set_site.connect(self._worker.set_site)
        self._worker.site_changed.connect(self._on_site_changed)
        self._worker.site_failed.connect(self.site_failed)
        self._explain.connect(self._worker.explain)
        self._start_scan.connect(self._worker.start_scan)
        self._worker.model_loaded.connect(self._on_loaded)
        self._worker.model_failed.connect(self._on_failed)
        self._worker.warmed_up.connect(self.warmed_up)
        self._worker.explained.connect(self.explained)
        self._worker.explain_failed.connect(self.explain_failed)
        self._worker.scan_progress.connect(self.scan_progress)
        self._worker.scan_finished.connect(self._on_scan_finished)
        self._worker.scan_failed.connect(self._on_scan_failed)
        self._thread.start()

    @property
    def worker(self) -> _Worker:
        return self._worker

    def load(self, model: object = None, defer: bool = False, site: str = "") -> None:
        """Load a model path (None: the default model) or adopt a ready `Screener`, with the site
        calibration `site` if one is given.

        `defer`: wait for `start_loading()` (the window calls it once it has painted); any request
        made before that starts the loading first, so it is always queued behind the model.
        """
        self.ready, self.card, self.error = False, None, None
        self._source, self._site_request, self._load_pending = model, site, True
        if not defer:
            self.start_loading()

    def start_loading(self) -> None:
        if self._load_pending:
            self._load_pending = False
            self._load.emit(self._source, self._site_request)

    def set_site(self, path: str) -> None:
        """Reopen the model with a site calibration ("" for none), on the engine thread, queued like any request."""
        self.start_loading()
        self._set_site.emit(path)

    @Slot(str, str)
    def _on_site_changed(self, path: str, description: str) -> None:
        self.site, self.site_description = path, description
        self.site_changed.emit(path, description)

    def explain(self, path: Path, image: LoadedImage | None, explained_class: str, source: int = 0) -> int:
        """Queue prediction + Grad-CAM for `path` ("" explains the predicted class); `image`: its viewer
        decode if there is one yet; `source`: which opening of the file it is. Returns the request id."""
        self.start_loading()
        self._request += 1
        self._worker.latest_request = self._request
        self._explain.emit(self._request, str(path), image, explained_class, source)
        return self._request

    @property
    def scanning(self) -> bool:
        return self.scan_job is not None

    def start_scan(self, job: ScanJob) -> None:
        self.start_loading()
        self.scan_job = job
        self._start_scan.emit(job)

    def cancel_scan(self) -> None:
        if self.scan_job is not None:
            self.scan_job.cancel.set()  # checked by the engine thread before the next batch

    def shutdown(self) -> None:
        """Stop the thread (after its current step) and close a running scan's CSV. Idempotent."""
        self.cancel_scan()
        if self._thread.isRunning():
            self._thread.quit()
            self._thread.wait()
        self._worker.close_scan()  # the thread has stopped: safe to touch the generator from here

    @Slot(object)
    def _on_loaded(self, card: object) -> None:
        self.ready, self.card, self.error = True, card, None
        self.model_loaded.emit(card)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.ready, self.card, self.error = False, None, message
        self.model_failed.emit(message)

    @Slot(object)
    def _on_scan_finished(self, end: ScanEnd) -> None:
        if end.job is self.scan_job:
            self.scan_job = None
        self.scan_finished.emit(end)

    @Slot(object, str)
    def _on_scan_failed(self, job: ScanJob, message: str) -> None:
        if job is self.scan_job:
            self.scan_job = None
        self.scan_failed.emit(job, message)


class _LoadTask(QRunnable):
    """Decode `source` (a path), or take it as decoded (a LoadedImage), and build its view layers."""

    def __init__(self, relay: ImageLoader, request: int, source: Path | LoadedImage, config: PreprocessConfig) -> None:
        super().__init__()
        self.relay, self.request, self.source, self.config = relay, request, source, config

    def run(self) -> None:
        if isinstance(self.source, LoadedImage):  # a rebuild: the file is not read again
            self.relay.rebuilt.emit(self.request, image_views(self.source, self.config))
            return
        try:
            views = image_views(load_image(self.source), self.config)
        except BaseException as exc:  # noqa: BLE001 - a corrupt file must never take the app down
            self.relay.failed.emit(self.request, str(self.source), describe_error(exc))
            return
        self.relay.loaded.emit(self.request, str(self.source), views)


class ImageLoader(QObject):
    """Decodes image files and builds their view layers off the GUI thread, newest request first."""

    loaded = Signal(int, str, object)  # request, path, ImageViews
    failed = Signal(int, str, str)  # request, path, message
    rebuilt = Signal(int, object)  # request, ImageViews of an image already decoded

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)

    def load(self, request: int, path: Path, config: PreprocessConfig) -> None:
        """`config`: the CLAHE settings for the view (the model card's, or the defaults until it loads)."""
        self._pool.clear()  # loads not started yet are stale now
        self._pool.start(_LoadTask(self, request, Path(path), config))

    def rebuild(self, request: int, image: LoadedImage, config: PreprocessConfig) -> None:
        """The layers of a decoded image with other CLAHE settings (the model card's, once known)."""
        self._pool.start(_LoadTask(self, request, image, config))

    def shutdown(self) -> None:
        self._pool.clear()
        self._pool.waitForDone()
