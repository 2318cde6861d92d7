"""The main window's docks: the result panel (scrolling, full height on the right) and the folder scan below."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QScrollArea, QWidget

PANEL_WIDTH = 330


def add_result_dock(window: QMainWindow, panel: QWidget) -> tuple[QScrollArea, QDockWidget]:
    """The panel in a scroll area, docked right: movable and closable, never floating."""
    scroll = QScrollArea()
    scroll.setWidget(panel)
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setMinimumWidth(PANEL_WIDTH)
    dock = QDockWidget("Result", window)
    dock.setObjectName("ResultDock")
    dock.setWidget(scroll)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    return scroll, dock


def add_scan_dock(window: QMainWindow, scan_panel: QWidget) -> QDockWidget:
    """Docked below, hidden until a folder is chosen."""
    dock = QDockWidget("Folder scan", window)
    dock.setObjectName("ScanDock")
    dock.setWidget(scan_panel)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()
    return dock
