"""Help > Keyboard Shortcuts (F1): every command that has a key, listed from the actions themselves,
so the list can never disagree with what the keys do."""

from __future__ import annotations

from html import escape

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from app.ui.text_dialog import TextDialog

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


class ShortcutsDialog(TextDialog):
    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        html = ["<table cellspacing='0' cellpadding='3'>"]
        html += [f"<tr><td><b>{escape(keys)}</b></td><td>{escape(text)}</td></tr>" for keys, text in [*rows, *EXTRA]]
        super().__init__("Keyboard Shortcuts", "".join(html) + "</table>", 520, 600, parent)
