"""The main window's docks: the result panel (scrolling, full height on the right) and the folder scan below."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtWidgets import QAbstractButton, QDockWidget, QMainWindow, QScrollArea, QWidget

PANEL_WIDTH = 300  # the image keeps most of a 1024-px laptop screen


def _title_button_tips(dock: QDockWidget, key: str) -> None:
    """Qt's own close and float buttons come without tooltips: say what they do and the key to undo it."""
    tips = {"qt_dockwidget_closebutton": f"Hide this panel (View menu or {key} brings it back)",
            "qt_dockwidget_floatbutton": "Float this panel in its own window (double-click its title to dock it again)"}
    for button in dock.findChildren(QAbstractButton):
        if button.objectName() in tips:
            button.setToolTip(tips[button.objectName()])


def add_result_dock(window: QMainWindow, panel: QWidget) -> tuple[QScrollArea, QDockWidget]:
    """The panel in a scroll area, docked right: movable and closable, never floating."""
    scroll = QScrollArea()
    scroll.setWidget(panel)
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a Tab stop with no visible focus: the panel's controls take it
    scroll.setMinimumWidth(PANEL_WIDTH)
    dock = QDockWidget("Result", window)
    dock.setObjectName("ResultDock")
    dock.setWidget(scroll)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    _title_button_tips(dock, "F9")
    return scroll, dock


def add_scan_dock(window: QMainWindow, scan_panel: QWidget) -> QDockWidget:
    """Docked below, hidden until a folder is chosen."""
    dock = QDockWidget("Folder scan", window)
    dock.setObjectName("ScanDock")
    dock.setWidget(scan_panel)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    _title_button_tips(dock, "Ctrl+F9")
    dock.hide()
    return dock


def restore_geometry(window: QMainWindow, settings: QSettings) -> None:
    """The window's size, place and docks as the last session left them; else 1400 x 900 at most."""
    geometry = settings.value("window/geometry")
    if isinstance(geometry, QByteArray) and not geometry.isEmpty():
        window.restoreGeometry(geometry)
    else:
        screen = window.screen().availableGeometry() if window.screen() else None
        width, height = (1400, 900) if screen is None else (
            min(1400, int(screen.width() * 0.92)), min(900, int(screen.height() * 0.92)))
        window.resize(width, height)
    state = settings.value("window/state")
    if isinstance(state, QByteArray) and not state.isEmpty():
        window.restoreState(state)


def save_geometry(window: QMainWindow, settings: QSettings) -> None:
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/state", window.saveState())
