"""Help > Keyboard Shortcuts (F1): every command that has a key, listed from the actions themselves,
so the list can never disagree with what the keys do."""

from __future__ import annotations

from html import escape

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

EXTRA = (("Arrow keys", "Pan a zoomed image (the image has the keyboard focus)"),
         ("Right-drag on the image", "Window (left/right) and level (up/down)"),
         ("Mouse wheel", "Zoom around the cursor"))


def shortcut_rows(widgets: list[QWidget]) -> list[tuple[str, str]]:
    """(keys, command) for every action with a shortcut on `widgets`, each once, in menu order."""
    rows, seen = [], set()
    for widget in widgets:
        for action in widget.findChildren(QAction) + widget.actions():
            keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
            if not keys or id(action) in seen:
                continue
            seen.add(id(action))
            rows.append((keys, action.text().replace("&", "").rstrip("\u2026")))
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.browser = QTextBrowser()
        html = ["<table cellspacing='0' cellpadding='3'>"]
        html += [f"<tr><td><b>{escape(keys)}</b></td><td>{escape(text)}</td></tr>" for keys, text in [*rows, *EXTRA]]
        self.browser.setHtml("".join(html) + "</table>")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        fit_to_screen(self, 520, 600)


def fit_to_screen(dialog: QDialog, width: int, height: int) -> None:
    """Open at `width` x `height`, smaller on a small screen; the user may resize it."""
    screen = dialog.screen().availableGeometry() if dialog.screen() else None
    if screen is not None:
        width, height = min(width, screen.width() - 40), min(height, screen.height() - 60)
    dialog.resize(width, height)
