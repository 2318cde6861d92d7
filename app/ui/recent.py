"""File > Open Recent: the last images opened, newest first, kept in QSettings across sessions."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QMenu, QWidget

KEY = "paths/recent_files"
MAX_RECENT = 10


class RecentFilesMenu(QMenu):
    """Rebuilt each time it opens, so a file deleted since then is shown disabled, not opened."""

    open_requested = Signal(object)  # Path

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__("Open &Recent", parent)
        self.settings = settings
        self.aboutToShow.connect(self.rebuild)
        self.rebuild()

    def paths(self) -> list[Path]:
        value = self.settings.value(KEY, [])
        names = [value] if isinstance(value, str) else list(value or [])  # one entry reads back as a string
        return [Path(name) for name in names if name]

    def add(self, path: Path) -> None:
        """Put `path` first (once); the oldest falls off after MAX_RECENT."""
        paths = [path] + [p for p in self.paths() if p != path]
        self.settings.setValue(KEY, [str(p) for p in paths[:MAX_RECENT]])
        self.rebuild()

    def clear_recent(self) -> None:
        self.settings.remove(KEY)
        self.rebuild()

    def rebuild(self) -> None:
        self.clear()
        paths = self.paths()
        for number, path in enumerate(paths, start=1):  # mnemonics 1 .. 9, 0
            action = self.addAction(f"&{number % 10} {path.name}")
            action.setToolTip(str(path))
            action.setStatusTip(str(path) if path.exists() else f"{path} (no longer there)")
            action.setEnabled(path.exists())
            action.triggered.connect(lambda _checked=False, p=path: self.open_requested.emit(p))
        if paths:
            self.addSeparator()
        self.addAction("&Clear Menu", self.clear_recent).setEnabled(bool(paths))
        self.setToolTipsVisible(True)
