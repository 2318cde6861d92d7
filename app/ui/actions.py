"""The main window's commands: QActions with shortcuts, tips and icons, and the menus and toolbar.

Kept apart from the window's behaviour so that every command, its key and where it shows is in one
place; the slots are the window's (or its viewer's and view controls') own methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QStyle, QToolBar

from app.ui.levels import PRESETS
from app.ui.panel import EXPLAIN_CHOICES

if TYPE_CHECKING:
    from app.ui.window import MainWindow

ELLIPSIS = "\u2026"
SP = QStyle.StandardPixmap


def make_action(window: MainWindow, text: str, slot: Any, shortcuts: list[Any] | None = None, tip: str = "",
                icon: QStyle.StandardPixmap | None = None, checkable: bool = False) -> QAction:
    """An action on `window` whose tooltip names its shortcut."""
    action = QAction(text, window)
    if shortcuts:
        sequences: list[QKeySequence] = []
        for spec in shortcuts:  # a standard key may be empty (Quit on Windows) or repeat another
            sequence = QKeySequence(spec)
            if not sequence.isEmpty() and sequence not in sequences:
                sequences.append(sequence)
        action.setShortcuts(sequences)
    if icon is not None:
        action.setIcon(window.style().standardIcon(icon))
    action.setCheckable(checkable)
    shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    plain = text.replace("&", "").rstrip(ELLIPSIS)
    action.setToolTip((tip or plain) + (f" ({shortcut})" if shortcut else ""))
    action.setStatusTip(tip or plain)
    (action.toggled if checkable else action.triggered).connect(slot)
    window.addAction(action)
    return action


class WindowCommands:
    """Every command of the main window, built once and shown in the menus and the toolbar."""

    def __init__(self, window: MainWindow) -> None:
        w, viewer, view = window, window.viewer, window.view_controls
        self.open = make_action(w, "&Open\u2026", w.choose_files, [QKeySequence.StandardKey.Open],
                                "Open one or more X-ray images", SP.SP_DialogOpenButton)
        self.scan = make_action(w, "Open &Folder to Scan\u2026", w.choose_scan_folder, ["Ctrl+Shift+O"],
                                "Scan every image in a folder into a CSV", SP.SP_DirOpenIcon)
        self.export = make_action(
            w, "&Export View as PNG\u2026", w.choose_export_path, [QKeySequence.StandardKey.Save, "Ctrl+S"],
            "Save the full-resolution image as shown (CLAHE, levels and heat map as set), with the result written inside",
            SP.SP_DialogSaveButton)
        self.export.setEnabled(False)  # until an image is on screen
        self.quit = make_action(w, "&Quit", w.close, [QKeySequence.StandardKey.Quit, "Ctrl+Q"])
        self.previous = make_action(w, "&Previous Image", w.previous_image, ["Left", "PgUp"],
                                    "Previous image of the list", SP.SP_ArrowBack)
        self.next = make_action(w, "&Next Image", w.next_image, ["Right", "PgDown"],
                                "Next image of the list", SP.SP_ArrowForward)
        for action in (self.previous, self.next):
            # only while the viewer has focus, so sliders, tables and text fields keep their arrow keys
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            w.removeAction(action)
            viewer.addAction(action)
        self.clahe = make_action(w, "&CLAHE Contrast (view only)", view.set_clahe, ["Ctrl+E"],
                                 "Show the image with CLAHE contrast enhancement; the prediction is unchanged",
                                 checkable=True)
        self.invert = make_action(w, "&Invert Grey Values", view.set_invert, ["Ctrl+I"],
                                  "Show bone dark and air bright; the prediction is unchanged", checkable=True)
        self.reset_levels = make_action(w, "&Reset Window/Level", view.reset_levels, ["Ctrl+R"],
                                        "Full grey range, not inverted (right-drag on the image changes window/level)")
        self.presets = [make_action(w, name, lambda _c=False, n=name: view.apply_preset(n), [],
                                    f"Window {width:.0f}, level {level:.0f}")
                        for name, (width, level) in PRESETS.items()]
        self.gradcam = make_action(w, "&Grad-CAM Heat Map", view.set_gradcam, ["Ctrl+G"],
                                   "Show where the evidence for the explained class lies", checkable=True)
        self.more_opaque = make_action(w, "Heat Map &More Opaque", lambda: view.step_opacity(+0.1), ["]"])
        self.less_opaque = make_action(w, "Heat Map &Less Opaque", lambda: view.step_opacity(-0.1), ["["])
        self.explain_group = QActionGroup(w)
        self.explain_choices: dict[str, QAction] = {}
        for key, (text, data) in zip(("Alt+1", "Alt+2", "Alt+3"), EXPLAIN_CHOICES):
            action = make_action(w, f"Explain {text.replace(' (default)', '')}",
                                 lambda _c=False, d=data: w.panel.set_explained_class(d), [key])
            action.setCheckable(True)
            self.explain_group.addAction(action)
            self.explain_choices[data] = action
        self.zoom_in = make_action(w, "Zoom &In", viewer.zoom_in, [QKeySequence.StandardKey.ZoomIn, "Ctrl+="])
        self.zoom_out = make_action(w, "Zoom &Out", viewer.zoom_out, [QKeySequence.StandardKey.ZoomOut])
        self.fit = make_action(w, "&Fit to Window", viewer.fit, ["Ctrl+0"])
        self.actual = make_action(w, "&Actual Size (100 %)", viewer.actual_size, ["Ctrl+1"])
        self.about = make_action(w, "&About PneumoScan\u2026", w.show_about, [], "Model card and licence")

    def show_explained_class(self, data: str) -> None:
        """Tick the menu entry of the explained class chosen in the panel."""
        if data in self.explain_choices:
            self.explain_choices[data].setChecked(True)

    def install_menus(self, window: MainWindow, recent: QMenu) -> None:
        bar = window.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open)
        file_menu.addMenu(recent)
        file_menu.addActions([self.scan, self.export])
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        view_menu = bar.addMenu("&View")
        view_menu.addActions([self.clahe, self.invert])
        levels_menu = view_menu.addMenu("&Window/Level")
        levels_menu.addActions(self.presets)
        levels_menu.addSeparator()
        levels_menu.addAction(self.reset_levels)
        view_menu.addSeparator()
        view_menu.addAction(self.gradcam)
        explain_menu = view_menu.addMenu("E&xplained Class")
        explain_menu.addActions(list(self.explain_choices.values()))
        view_menu.addActions([self.less_opaque, self.more_opaque])
        view_menu.addSeparator()
        view_menu.addActions([self.zoom_in, self.zoom_out, self.fit, self.actual])
        view_menu.addSeparator()
        view_menu.addActions([self.previous, self.next])
        view_menu.addSeparator()
        result_toggle = window.panel_dock.toggleViewAction()
        result_toggle.setText("&Result Panel")
        scan_toggle = window.scan_dock.toggleViewAction()
        scan_toggle.setText("Folder &Scan Panel")
        view_menu.addActions([result_toggle, scan_toggle])
        bar.addMenu("&Help").addAction(self.about)

    def install_toolbar(self, window: MainWindow) -> QToolBar:
        toolbar = QToolBar("Main toolbar", window)
        toolbar.setObjectName("MainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setIconSize(QSize(18, 18))
        toolbar.setMovable(False)
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        for action, text in ((self.open, "Open"), (self.scan, "Scan folder"), (self.previous, "Previous"),
                             (self.next, "Next"), (self.clahe, "CLAHE (view)"), (self.invert, "Invert"),
                             (self.gradcam, "Grad-CAM"), (self.zoom_in, "Zoom +"), (self.zoom_out, "Zoom \u2212"),
                             (self.fit, "Fit"), (self.actual, "1:1")):
            action.setIconText(text)
        groups = ([self.open, self.scan], [self.previous, self.next], [self.clahe, self.invert, self.gradcam],
                  [self.zoom_out, self.zoom_in, self.fit, self.actual])
        for number, group in enumerate(groups):
            if number:
                toolbar.addSeparator()
            toolbar.addActions(group)
        return toolbar
