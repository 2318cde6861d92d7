"""Files and folders dragged onto the main window: local paths are accepted, anything else is refused.

`DropTarget` gives a widget the drag handlers; what a drop then means is its `handle_dropped`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent

from app.core.io.images import is_image_path


def local_paths(event: QDragEnterEvent | QDropEvent) -> list[Path]:
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


def accept_drag(event: QDragEnterEvent) -> None:
    """Only a drag that holds local files may be dropped."""
    if local_paths(event):
        event.acceptProposedAction()
    else:
        event.ignore()


def take_drop(event: QDropEvent) -> list[Path]:
    """The dropped local paths, the drop accepted; none (and the drop ignored) when it holds no local file."""
    paths = local_paths(event)
    if paths:
        event.acceptProposedAction()
    else:
        event.ignore()
    return paths


def split_drop(paths: list[Path]) -> tuple[list[Path], Path | None]:
    """The files to open (only the images, when several files hold any) and the first folder, to scan."""
    folders = [p for p in paths if p.is_dir()]
    files = [p for p in paths if not p.is_dir()]
    if len(files) > 1:
        images = [p for p in files if is_image_path(p)]
        files = images or files
    return files, folders[0] if folders else None


class DropTarget:
    """A mixin for a widget that accepts dropped local files (it calls `setAcceptDrops(True)` itself)."""

    def handle_dropped(self, paths: list[Path]) -> None:
        raise NotImplementedError

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        accept_drag(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = take_drop(event)
        if paths:
            self.handle_dropped(paths)
