"""Export the view as a PNG: the full-resolution image as shown, with what it shows written inside.

A figure for a report or a paper must say where it came from, so the PNG carries the model version,
the result and the view settings as text chunks (`Description`, `Software`), which image viewers
and `PIL.Image.open(path).text` show. Encoding a large PNG takes a second, so it runs on a `Worker`;
the file appears only when complete (written beside it, then renamed).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtGui import QImage

from app.core.screening import Explanation
from app.core.numbers import probability_text, threshold_text


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
