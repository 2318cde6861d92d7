"""When the GUI starts loading the model: once the window has painted, or after a second if it stays hidden.

The model (TensorFlow import, 3-4 s of mostly GIL-holding work) would otherwise slow the window's first
appearance. A request made earlier starts the loading at once, queued ahead of that request (`Engine`).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

from app.ui.engine import Engine

HIDDEN_WINDOW_DELAY_MS = 1000


class ModelStart(QObject):
    """Watches `viewport` for its first paint, then tells `engine` (already given the model, deferred) to load."""

    def __init__(self, engine: Engine, viewport: QWidget, parent: QObject) -> None:
        super().__init__(parent)
        self.engine, self.viewport = engine, viewport
        self.started = False
        self.cancelled = False
        viewport.installEventFilter(self)
        QTimer.singleShot(HIDDEN_WINDOW_DELAY_MS, self.start)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self.started and watched is self.viewport:
            QTimer.singleShot(0, self.start)
        return super().eventFilter(watched, event)

    def start(self) -> None:
        if self.started or self.cancelled:
            return
        self.started = True
        self.viewport.removeEventFilter(self)
        self.engine.start_loading()

    def cancel(self) -> None:
        """The window is shutting down: never start."""
        self.cancelled = True
