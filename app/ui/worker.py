"""One generic background worker for the GUI: a generator run off the GUI thread, its results on the GUI thread.

In the spirit of napari's `thread_worker` (superqt's `GeneratorWorker`) and Orange3's `TaskState`: the
work is a generator that yields progress or partial results; each `step()` runs it to its next `yield`
on a worker thread, and what it yields, returns or raises arrives as a signal on the GUI thread, in
order. Cancel is cooperative: `quit()` sets a flag that is checked before every step, and the generator
is then closed (its `with` and `finally` blocks run: a scan's CSV is closed with every finished row).

Two runners step workers: `WorkerPool` (a one-thread QThreadPool: decoding and PNG writing) and
`WorkerThread` (one QThread whose Python `run()` steps every model call, so the model's thread-local
state lives as long as the thread, and a scan's batches and a single image's request take turns).
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Generator
from typing import Any, Protocol

from PySide6.QtCore import QObject, QRunnable, Qt, QThread, QThreadPool, Signal, Slot

YIELDED, RETURNED, ERRORED, ABORTED = "yielded", "returned", "errored", "aborted"


def as_generator(function: Callable[..., Any], *args: Any) -> Generator[Any, None, Any]:
    """A plain call as a generator of one step (napari's `as_generator_function`): its value is the return."""
    return function(*args)  # noqa: B901 - the value of the generator's one step
    yield  # unreachable: makes this a generator function


class Worker(QObject):
    """A generator stepped on a runner's thread; every signal below is emitted on the GUI thread."""

    yielded = Signal(object)  # a partial result or a progress report
    returned = Signal(object)  # the generator's return value
    errored = Signal(object)  # the exception it raised
    aborted = Signal()  # `quit()` stopped it before it ended
    finished = Signal()  # after any of the three endings
    _report = Signal(str, object)  # emitted on the worker thread, delivered on the GUI thread

    def __init__(self, work: Generator[Any, None, Any], abort: threading.Event | None = None,
                 parent: QObject | None = None) -> None:
        """`abort`: a flag shared with the caller (e.g. a scan's Cancel), else the worker's own."""
        super().__init__(parent)
        self._work = work
        self._abort = abort if abort is not None else threading.Event()
        self.done = False
        self._report.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def quit(self) -> None:
        """Ask the generator to stop before its next step (a step under way runs to its `yield`)."""
        self._abort.set()

    @property
    def abort_requested(self) -> bool:
        return self._abort.is_set()

    def step(self) -> bool:
        """Run the generator to its next `yield` (on the runner's thread); False once it has ended."""
        if self._abort.is_set():
            self._work.close()
            self._report.emit(ABORTED, None)
            return False
        try:
            value = next(self._work)
        except StopIteration as stop:
            self._report.emit(RETURNED, stop.value)
            return False
        except BaseException as exc:  # noqa: BLE001 - a corrupt file or a failed batch must never take the app down
            self._report.emit(ERRORED, exc)
            return False
        self._report.emit(YIELDED, value)
        return True

    def close(self) -> None:
        """Close the generator without a report (the runner is stopping)."""
        self._work.close()

    @Slot(str, object)
    def _deliver(self, kind: str, value: object) -> None:
        if kind == YIELDED:
            self.yielded.emit(value)
            return
        self.done = True
        if kind == RETURNED:
            self.returned.emit(value)
        elif kind == ERRORED:
            self.errored.emit(value)
        else:
            self.aborted.emit()
        self.finished.emit()


class Runner(Protocol):
    def submit(self, worker: Worker) -> Worker: ...


def start_worker(runner: Runner, work: Generator[Any, None, Any], parent: QObject, *,
                 yielded: Callable[[Any], object] | None = None, returned: Callable[[Any], object] | None = None,
                 errored: Callable[[Any], object] | None = None, aborted: Callable[[], object] | None = None,
                 abort: threading.Event | None = None) -> Worker:
    """Run `work` on `runner`, its reports connected to the given slots; the worker is deleted once it has ended."""
    worker = Worker(work, abort, parent)
    for signal, slot in ((worker.yielded, yielded), (worker.returned, returned), (worker.errored, errored),
                         (worker.aborted, aborted)):
        if slot is not None:
            signal.connect(slot)
    worker.finished.connect(worker.deleteLater)
    return runner.submit(worker)


class _Run(QRunnable):
    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.worker = worker

    def run(self) -> None:
        while self.worker.step():
            pass


class WorkerPool(QObject):
    """Runs workers one after the other on one pool thread, each to its end."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)

    def submit(self, worker: Worker) -> Worker:
        self._pool.start(_Run(worker))
        return worker

    def shutdown(self) -> None:
        """Wait for the workers under way (a PNG being written is finished, not cut off)."""
        self._pool.waitForDone()


class WorkerThread(QThread):
    """One thread that steps its workers in turn, one `yield` each, so a long one never holds up a short one.

    With QThread's default C++ `run()`, PySide gives every call into Python on the thread a fresh thread
    state, so `threading.local` data dies between two calls; TensorFlow keeps its graph-building context
    there, and tracing a second tf.function in a later call crashed the process. Stepping every worker
    inside this one Python `run()` keeps one thread state for the thread's whole life.
    """

    _STOP = object()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._inbox: queue.Queue[Any] = queue.Queue()

    def submit(self, worker: Worker) -> Worker:
        self._inbox.put(worker)
        return worker

    def run(self) -> None:
        active: deque[Worker] = deque()
        while True:
            try:
                item = self._inbox.get(block=not active)
            except queue.Empty:
                item = None
            while item is not None:
                if item is self._STOP:
                    for worker in active:
                        worker.close()  # a scan's CSV is closed with every finished row
                    return
                active.append(item)
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    item = None
            worker = active.popleft()
            if worker.step():
                active.append(worker)  # the others take their turn first

    def stop(self) -> None:
        """Stop after the step under way; workers not finished are closed. Idempotent."""
        if self.isRunning():
            self._inbox.put(self._STOP)
            self.wait()
