"""The main window's status bar: messages on the left; a busy indicator, the zoom and the model's state on the right."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar


class WindowStatusBar(QStatusBar):
    def __init__(self) -> None:
        super().__init__()
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setFixedWidth(90)
        self.busy_bar.setMaximumHeight(12)
        self.zoom_label = QLabel("")
        self.zoom_label.setMinimumWidth(80)
        self.zoom_label.setToolTip("Zoom: 100 % shows one image pixel per screen pixel")
        self.model_status = QLabel("")
        self.addPermanentWidget(self.busy_bar)
        self.addPermanentWidget(self.zoom_label)
        self.addPermanentWidget(self.model_status)

    def show_zoom(self, zoom: float) -> None:
        """0: no image on screen, so no zoom (not the last file's)."""
        self.zoom_label.setText(f"Zoom {zoom * 100:.0f} %" if zoom > 0 else "")
