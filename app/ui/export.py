"""Export the view as a PNG: the full-resolution image as shown, with what it shows written inside.

A figure for a report or a paper must say where it came from, so the PNG carries the model version,
the result and the view settings as text chunks (`Description`, `Software`), which image viewers
and `PIL.Image.open(path).text` show. Encoding a large PNG takes a second, so it runs on a `Worker`;
the file appears only when complete (written beside it, then renamed).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QStatusBar, QWidget

from app import __version__

from app.core.screening import Explanation
from app.core.numbers import probability_text, threshold_text
from app.ui.worker import WorkerPool, as_generator, start_worker


def export_name(source: Path, heat_shown: bool) -> str:
    """`chest.jpeg` -> `chest_gradcam.png` (overlay shown) or `chest_view.png`."""
    return f"{source.stem}_{'gradcam' if heat_shown else 'view'}.png"


def describe_view(source: Path, explanation: Explanation | None, clahe: bool, opacity: float | None,
                  levels: str = "") -> str:
    """One line that says what the exported picture shows (`levels`: window/level and invert, if any)."""
    view = "CLAHE" if clahe else "as loaded"
    parts = [f"Image: {source.name}", f"view: {view}, {levels}" if levels else f"view: {view}"]
    if explanation is not None:
        p = explanation.prediction
        parts.append(f"result: {p.display_label}, probability of pneumonia {probability_text(p.probability)} "
                     f"(threshold {threshold_text(p.threshold)}, model {p.model_version})")
        if opacity is not None:
            parts.append(f"Grad-CAM explaining {explanation.explained_class} at opacity {opacity:.2f}")
    parts.append("research tool, not a medical device")
    return "; ".join(parts)


def save_png(image: QImage, path: Path, description: str, software: str) -> Path:
    """Write `image` with its text chunks (on a worker thread); the file appears only when complete."""
    image.setText("Description", description)
    image.setText("Software", software)
    partial = path.with_name(f".{path.name}.part")
    try:
        if not image.save(str(partial), "PNG"):
            raise OSError("the file could not be written")
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)
        raise
    return path


def save_failure(path: Path, exc: BaseException) -> str:
    reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
    return f"Could not save {path}: {reason}. Choose a folder you can write to."


class ViewExport(QObject):
    """File > Export View as PNG: asks where, writes the PNG on a worker of its own pool, says how it went."""

    saved = Signal(str)  # path of the complete PNG
    failed = Signal(str)  # message

    def __init__(self, parent: QWidget, settings: QSettings, status: QStatusBar) -> None:
        super().__init__(parent)
        self.parent_widget, self.settings, self.status = parent, settings, status
        self.pool = WorkerPool(self)

    def ask_path(self, source: Path, heat_shown: bool) -> Path | None:
        folder = self.settings.value("paths/last_export_folder", "", type=str) or str(source.parent)
        path, _ = QFileDialog.getSaveFileName(self.parent_widget, "Export the view as PNG",
                                              str(Path(folder) / export_name(source, heat_shown)), "PNG image (*.png)")
        return (Path(path) if path.lower().endswith(".png") else Path(path + ".png")) if path else None

    def save(self, image: QImage, path: Path, description: str) -> None:
        self.settings.setValue("paths/last_export_folder", str(path.parent))
        self.status.showMessage(f"Saving the view to {path}\u2026")
        start_worker(self.pool, as_generator(save_png, image, path, description, f"PneumoScan {__version__}"), self,
                     returned=self._on_saved, errored=lambda exc: self._on_failed(save_failure(path, exc)))

    def _on_saved(self, path: Path) -> None:
        self.status.showMessage(f"Saved the view to {path}", 15000)
        self.saved.emit(str(path))

    def _on_failed(self, message: str) -> None:
        self.status.showMessage(message, 15000)
        self.failed.emit(message)

    def shutdown(self) -> None:
        self.pool.shutdown()  # a PNG being written is finished, not cut off
