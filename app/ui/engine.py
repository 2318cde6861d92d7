"""The model for the GUI: every model call runs as a `Worker` on one `WorkerThread`, never on the GUI thread.

* That thread holds the `Screener` (in `ModelState`, touched only there) and runs every model call
  (loading, prediction + Grad-CAM, scan batches), so only one inference runs at a time without a lock.
* A folder scan is a worker that yields one batch per step, so a single image's request made during a
  scan is served between two batches; Cancel is the worker's abort flag (the job's `cancel`), checked
  before each batch: the scan's generator is then closed, and its CSV with every finished row in it.
* An explain request carries an id; a newer request quits the older one (skipped if not started), and
  the window drops any result whose id is not the one it waits for.
* The engine receives the model's copy of the file (`load_model_image`, decoded by the window's loader),
  never a path: the file is read by the loader alone. The heat map is coloured here too, for the full
  picture's geometry (at most `HEAT_MAX_SIDE` px, scaled by the viewer), so the GUI thread only blends.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.core.errors import PneumoScanError, describe_error
from app.core.io.images import LoadedImage
from app.core.scan.folder import ScanRequest
from app.core.scan.loop import ScanUpdate
from app.ui.imaging import heat_layer
from app.ui.worker import Worker, WorkerThread, as_generator, start_worker


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


class ModelUnavailable(PneumoScanError):
    """No model to run: it has not loaded, or could not be loaded."""


@dataclass
class ModelState:
    """The engine thread's own state: read and written there only (the request count: a single int store)."""

    screener: Any = None
    error: str = "The model is not loaded."
    requests: int = 0  # explain requests asked for so far: the warm-up is skipped once one is queued
    scanning: bool = False

    def ready_screener(self) -> Any:
        if self.screener is None:
            raise ModelUnavailable(self.error)
        return self.screener


@dataclass(frozen=True)
class SiteChanged:
    path: str  # "" for none
    description: str  # `SiteCalibration.describe()`, "" for none


@dataclass(frozen=True)
class SiteFailed:
    path: str
    message: str


WARMED_UP = "warmed up"


# --- the work, on the engine thread -----------------------------------------------------------------
def load_model(state: ModelState, source: object, site: str) -> Generator[object, None, None]:
    """Yields the card once the model is loaded, then the site calibration's outcome (if `site`), then WARMED_UP."""
    try:
        if isinstance(source, (str, Path)) or source is None:
            from app.core.screening import Screener  # the model's runtime is imported here, off the GUI thread

            state.screener = Screener(Path(source) if source else None)
        else:
            state.screener = source  # a ready Screener (tests)
    except Exception as exc:  # noqa: BLE001 - reported as the model's failure, and kept for later requests
        state.screener, state.error = None, describe_error(exc)
        raise ModelUnavailable(state.error) from exc
    yield state.screener.card
    if site:
        yield change_site(state, site)
    warm_up(state)
    yield WARMED_UP


def change_site(state: ModelState, site: str) -> SiteChanged | SiteFailed:
    """Reopen the model with the site calibration `site` ("" for none); a refused file changes nothing."""
    if state.screener is None:
        return SiteFailed(site, state.error)
    try:
        from app.core.screening import Screener

        screener = Screener(state.screener.model_path, state.screener.backend.name, site=Path(site) if site else None)
    except Exception as exc:  # noqa: BLE001 - edited, foreign or unreadable: said, and the old state kept
        return SiteFailed(site, describe_error(exc))
    state.screener = screener
    return SiteChanged(site, screener.site.describe() if screener.site else "")


def warm_up(state: ModelState) -> None:
    """Run the model once on a synthetic image, so the user's first image is fast."""
    if state.requests:  # a queued real request warms it anyway
        return
    ramp = np.tile(np.linspace(0, 255, 256, dtype=np.float32), (256, 1)).astype(np.uint8)
    image = LoadedImage(ramp, "synthetic", 8, 1, 0.0)
    try:
        state.screener.explain(image, None, None)
        state.screener.predict(image)
    except Exception:  # noqa: BLE001 - warm-up is an optimisation; real requests report errors
        pass


def explain(state: ModelState, copy: LoadedImage, explained_class: str | None) -> tuple[Any, Any]:
    """Prediction + Grad-CAM of the model's copy, and its heat layer for the full picture's geometry."""
    shape = (copy.full_size[1], copy.full_size[0])  # the viewer's picture, whatever scale was decoded
    explanation = state.ready_screener().explain(copy, None, explained_class, shape)
    return explanation, heat_layer(explanation, shape)


def scan(state: ModelState, job: ScanJob) -> Generator[ScanUpdate, None, None]:
    """The CLI's scan, one batch per step; the CLI's refusals first (never a CSV over an input)."""
    if state.scanning:
        raise ModelUnavailable("A scan is already running.")
    screener = state.ready_screener()
    try:
        job.request.check()
    except PneumoScanError:
        raise
    except Exception as exc:  # noqa: BLE001 - said as the engine says it, not as a CSV that cannot be written
        raise PneumoScanError(describe_error(exc)) from exc
    state.scanning = True
    try:
        yield from job.request.start(screener)
    finally:
        state.scanning = False


def scan_failure(job: ScanJob, exc: BaseException) -> str:
    message = describe_error(exc)
    if isinstance(exc, OSError) and not isinstance(exc, PneumoScanError):
        message = f"Cannot write {job.out_csv}: {exc.strerror or exc}"
    return message


# --- the GUI's handle ---------------------------------------------------------------------------
class Engine(QObject):
    """Create it, call `load`, connect the signals (all emitted on the GUI thread)."""

    model_loaded = Signal(object)  # ModelCard
    model_failed = Signal(str)
    site_changed = Signal(str, str)  # path ("" for none), description ("" for none)
    site_failed = Signal(str, str)  # path, message
    warmed_up = Signal()
    explained = Signal(int, object, object)  # request id, Explanation, its heat layer (QImage)
    explain_failed = Signal(int, str)
    scan_progress = Signal(object, object)  # ScanJob, ScanUpdate
    scan_finished = Signal(object)  # ScanEnd
    scan_failed = Signal(object, str)  # ScanJob, message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.card: Any = None
        self.error: str | None = None
        self.ready = False
        self.scan_job: ScanJob | None = None
        self.site = ""  # the path of the site calibration in force ("" for the model card's)
        self.site_description = ""
        self.state = ModelState()
        self._request = 0
        self._explaining: Worker | None = None
        self._load_args: tuple[object, str] | None = None
        self._thread = WorkerThread("pneumoscan-engine")
        self._thread.start()

    @property
    def screener(self) -> Any:
        """The loaded `Screener` (None until then); it runs on the engine thread only."""
        return self.state.screener

    def load(self, model: object = None, defer: bool = False, site: str = "") -> None:
        """Load a model path (None: the default model) or adopt a ready `Screener`, with the site
        calibration `site` if one is given.

        `defer`: wait for `start_loading()` (the window calls it once it has painted); any request
        made before that starts the loading first, so it is always queued behind the model.
        """
        self.ready, self.card, self.error = False, None, None
        self._load_args = (model, site)
        if not defer:
            self.start_loading()

    def start_loading(self) -> None:
        if self._load_args is None:
            return
        model, site = self._load_args
        self._load_args = None
        start_worker(self._thread, load_model(self.state, model, site), self, yielded=self._on_load_step,
                     errored=lambda exc: self._on_failed(describe_error(exc)))

    def _on_load_step(self, step: object) -> None:
        if step == WARMED_UP:
            self.warmed_up.emit()
        elif isinstance(step, (SiteChanged, SiteFailed)):
            self._on_site(step)
        else:
            self.ready, self.card, self.error = True, step, None
            self.model_loaded.emit(step)

    def _on_failed(self, message: str) -> None:
        self.ready, self.card, self.error = False, None, message
        self.model_failed.emit(message)

    def set_site(self, path: str) -> None:
        """Reopen the model with a site calibration ("" for none), on the engine thread, queued like any request."""
        self.start_loading()
        start_worker(self._thread, as_generator(change_site, self.state, path), self, returned=self._on_site)

    def _on_site(self, outcome: SiteChanged | SiteFailed) -> None:
        if isinstance(outcome, SiteFailed):
            self.site_failed.emit(outcome.path, outcome.message)
            return
        self.site, self.site_description = outcome.path, outcome.description
        self.site_changed.emit(outcome.path, outcome.description)

    def explain(self, copy: LoadedImage, explained_class: str | None) -> int:
        """Queue prediction + Grad-CAM of the model's copy of a file (`explained_class` None: the predicted
        class); an older request not started yet is dropped. Returns the request id."""
        self.start_loading()
        self._request += 1
        self.state.requests = request = self._request
        if self._explaining is not None and not self._explaining.done:
            self._explaining.quit()
        self._explaining = start_worker(
            self._thread, as_generator(explain, self.state, copy, explained_class), self,
            returned=lambda result: self.explained.emit(request, *result),
            errored=lambda exc: self.explain_failed.emit(request, describe_error(exc)))
        return request

    @property
    def scanning(self) -> bool:
        return self.scan_job is not None

    def start_scan(self, job: ScanJob) -> None:
        self.start_loading()
        self.scan_job = job
        progress: list[ScanUpdate] = []

        def on_update(update: ScanUpdate) -> None:
            progress.append(update)
            self.scan_progress.emit(job, update)

        start_worker(self._thread, scan(self.state, job), self, abort=job.cancel,
                     yielded=on_update,
                     returned=lambda _r: self._end_scan(job, progress, cancelled=False),
                     aborted=lambda: self._end_scan(job, progress, cancelled=True),
                     errored=lambda exc: self._fail_scan(job, scan_failure(job, exc)))

    def cancel_scan(self) -> None:
        if self.scan_job is not None:
            self.scan_job.cancel.set()  # checked by the engine thread before the next batch

    def _end_scan(self, job: ScanJob, progress: list[ScanUpdate], cancelled: bool) -> None:
        if job is self.scan_job:
            self.scan_job = None
        last = progress[-1] if progress else None
        done, total, elapsed = (last.done, last.total, last.elapsed_s) if last is not None else (0, 0, 0.0)
        self.scan_finished.emit(ScanEnd(job, cancelled and (last is None or done < total), done, total, elapsed))

    def _fail_scan(self, job: ScanJob, message: str) -> None:
        if job is self.scan_job:
            self.scan_job = None
        self.scan_failed.emit(job, message)

    def shutdown(self) -> None:
        """Stop the thread (after its current step) and close a running scan's CSV. Idempotent."""
        self.cancel_scan()
        self._thread.stop()
