"""The GUI's Qt-free view model and its one generic worker, without a window."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from app.ui.levels import Levels
from app.ui.view_model import ViewModel


def test_view_model_notifies_once_per_change_and_never_for_none() -> None:
    model, heard = ViewModel(), []
    model.observe(lambda state, changed: heard.append(changed))
    assert model.update(clahe=True) == {"clahe"}
    assert model.update(clahe=True) == frozenset()  # no change: no one is told
    model.update(levels=Levels(100, 50), keep_levels=True)
    assert heard == [{"clahe"}, {"levels", "keep_levels"}]


def test_held_heat_is_remembered_as_wanted_and_released_for_the_next_image() -> None:
    model = ViewModel()
    model.hold_heat()
    assert not model.state.gradcam and model.state.heat_held and model.state.wants_heat
    model.release_held_heat()
    assert model.state.gradcam and not model.state.heat_held
    model.update(levels=Levels(80, 40, True), explained_class="NORMAL")
    model.new_image()  # its own levels and the default explanation
    assert model.state.levels == Levels() and model.state.explained_class == "PNEUMONIA"
    model.update(keep_levels=True, levels=Levels(80, 40))
    model.new_image()
    assert model.state.levels == Levels(80, 40)


def test_the_view_model_imports_no_qt() -> None:
    code = "import sys, app.ui.view_model, app.ui.session; assert not any(m.startswith('PySide6') for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2], timeout=60)


def test_worker_delivers_in_order_on_the_gui_thread_and_stops_between_yields(qtbot) -> None:  # noqa: ANN001
    from app.ui.worker import WorkerPool, start_worker

    pool, seen, closed = WorkerPool(), [], []
    gui_thread = threading.get_ident()
    abort = threading.Event()

    def count():  # noqa: ANN202
        try:
            for i in range(100):
                if i == 2:
                    abort.set()  # as Cancel would, from any thread: no third value is computed
                yield i
        finally:
            closed.append(True)

    worker = start_worker(pool, count(), None, abort=abort,
                          yielded=lambda i: seen.append((i, threading.get_ident() == gui_thread)))
    with qtbot.waitSignal(worker.aborted, timeout=10_000):
        pass
    assert seen == [(0, True), (1, True), (2, True)]
    assert closed == [True]  # the generator was closed: its finally ran
    done = start_worker(pool, iter_return(7), None)
    with qtbot.waitSignal(done.returned, timeout=10_000) as blocker:
        pass
    assert blocker.args == [7]
    pool.shutdown()


def iter_return(value: int):  # noqa: ANN201
    yield
    return value
