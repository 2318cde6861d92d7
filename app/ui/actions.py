"""The main window's commands: QActions with shortcuts, tips and icons, and the menus and toolbar.

Kept apart from the window's behaviour so that every command, its key and where it shows is in one
place. The slots are the window's (`CommandSlots`), the viewer's and the scan panel's own methods; the
checkable view toggles are views of the `ViewModel`'s fields, bound both ways.
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QStyle, QToolBar, QWidget

from app.ui.levels import PRESETS
from app.ui.panel import EXPLAIN_CHOICES
from app.ui.scan_panel import ScanPanel
from app.ui.view_controls import ViewControls, bind_check
from app.ui.view_model import ViewModel
from app.ui.viewer import ImageViewer

ELLIPSIS = "\u2026"
SP = QStyle.StandardPixmap


class CommandSlots(Protocol):
    """What the commands ask of the main window."""

    def choose_files(self) -> None: ...
    def choose_scan_folder(self) -> None: ...
    def choose_export_path(self) -> None: ...
    def choose_site(self) -> None: ...
    def clear_site(self) -> None: ...
    def previous_image(self) -> None: ...
    def next_image(self) -> None: ...
    def show_about(self) -> None: ...
    def show_shortcuts(self) -> None: ...
    def close(self) -> bool: ...


def make_action(window: QWidget, text: str, slot: Any, shortcuts: list[Any] | None = None, tip: str = "",
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
    if slot is not None:  # a checkable view toggle is bound to the view model instead
        (action.toggled if checkable else action.triggered).connect(slot)
    window.addAction(action)
    return action


class WindowCommands:
    """Every command of the main window, built once and shown in the menus and the toolbar."""

    def __init__(self, w: QWidget, slots: CommandSlots, viewer: ImageViewer, view: ViewControls, scan: ScanPanel) -> None:
        model = view.model
        self.open = make_action(w, "&Open\u2026", slots.choose_files, [QKeySequence.StandardKey.Open],
                                "Open one or more X-ray images", SP.SP_DialogOpenButton)
        self.scan = make_action(w, "Open &Folder to Scan\u2026", slots.choose_scan_folder, ["Ctrl+Shift+O"],
                                "Scan every image in a folder into a CSV", SP.SP_DirOpenIcon)
        self.export = make_action(
            w, "&Export View as PNG\u2026", slots.choose_export_path, [QKeySequence.StandardKey.Save, "Ctrl+S"],
            "Save the full-resolution image as shown (CLAHE, levels and heat map as set), with the result written inside",
            SP.SP_DialogSaveButton)
        self.export.setEnabled(False)  # until an image is on screen
        self.export_identity = make_action(
            w, "Include &Identity in Exports", None, [],
            "Write the patient's name, ID, age, sex, study date, view and the file name into exported PNGs",
            checkable=True)
        self.site = make_action(w, "Site &Calibration\u2026", slots.choose_site, [],
                                "Use a site calibration (SITE.json from pneumoscan-cli calibrate) for this model")
        self.clear_site = make_action(w, "C&lear Site Calibration", slots.clear_site, [],
                                      "Go back to the model card's calibration (children aged 1-5, one hospital)")
        self.clear_site.setEnabled(False)
        self.start_scan = make_action(w, "S&tart Scan", scan.start, ["F5"],
                                      "Scan the folder chosen in the Folder scan panel")
        self.cancel_scan = make_action(w, "Ca&ncel Scan", scan.cancel, ["Shift+F5"],
                                       "Stop the running scan after the current batch; the CSV keeps every finished row")
        self.cancel_scan.setEnabled(False)
        self.quit = make_action(w, "&Quit", slots.close, [QKeySequence.StandardKey.Quit, "Ctrl+Q"])
        self.previous = make_action(w, "&Previous Image", slots.previous_image, ["PgUp", "Ctrl+Left"],
                                    "Previous image of the list", SP.SP_ArrowBack)
        self.next = make_action(w, "&Next Image", slots.next_image, ["PgDown", "Ctrl+Right"],
                                "Next image of the list", SP.SP_ArrowForward)
        self.clahe = make_action(w, "&CLAHE Contrast (view only)", None, ["Ctrl+E"],
                                 "Show the image with CLAHE contrast enhancement; the prediction is unchanged",
                                 checkable=True)
        self.invert = make_action(w, "In&vert Grey Values", None, ["Ctrl+I"],
                                  "Show bone dark and air bright; the prediction is unchanged", checkable=True)
        self.reset_levels = make_action(w, "&Reset Window/Level", view.reset_levels, ["Ctrl+R"],
                                        "Full grey range, not inverted (right-drag on the image changes window/level)")
        self.keep_levels = make_action(
            w, "&Keep Window/Level for the Next Image", None, [],
            "Off: every new image opens at the full grey range, not inverted. On: the view says it was kept",
            checkable=True)
        self.presets = [make_action(w, name, lambda _c=False, n=name: view.apply_preset(n), [str(number)],
                                    f"Window {width:.0f}, level {level:.0f}")
                        for number, (name, (width, level)) in enumerate(PRESETS.items(), start=1)]
        for action in (self.previous, self.next, *self.presets):
            # only while the viewer has focus, so sliders, tables and text fields keep their keys
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            w.removeAction(action)
            viewer.addAction(action)
        self.identity = make_action(w, "I&dentity Overlay", None, ["Ctrl+Shift+I"],
                                    "Patient name, ID, age, sex, study date, view and file name in the image's corners",
                                    checkable=True)
        self.focus_image = make_action(w, "Focus the Image", lambda: viewer.setFocus(Qt.FocusReason.ShortcutFocusReason),
                                       ["Esc"], "Give the keyboard back to the image (arrow keys pan, PgUp/PgDn step)")
        self.gradcam = make_action(w, "&Grad-CAM Heat Map", None, ["Ctrl+G"],
                                   "Show where the evidence for the explained class lies", checkable=True)
        self.more_opaque = make_action(w, "Heat Map &More Opaque", lambda: model.set_opacity(model.state.opacity + 0.1), ["]"])
        self.less_opaque = make_action(w, "Heat Map &Less Opaque", lambda: model.set_opacity(model.state.opacity - 0.1), ["["])
        self.explain_group = QActionGroup(w)
        self.explain_choices: dict[str, QAction] = {}
        for key, (text, data) in zip(("Alt+1", "Alt+2"), EXPLAIN_CHOICES):
            action = make_action(w, f"Explain: {text.replace(' (default)', '')}",
                                 lambda _c=False, d=data: model.update(explained_class=d), [key])
            action.setCheckable(True)
            self.explain_group.addAction(action)
            self.explain_choices[data] = action
        self.zoom_in = make_action(w, "Zoom &In", viewer.zoom_in, [QKeySequence.StandardKey.ZoomIn, "Ctrl+="])
        self.zoom_out = make_action(w, "Zoom &Out", viewer.zoom_out, [QKeySequence.StandardKey.ZoomOut])
        self.fit = make_action(w, "&Fit to Window", viewer.fit, ["Ctrl+0"])
        self.actual = make_action(w, "&Actual Size (100 %)", viewer.actual_size, ["Ctrl+1"])
        self.about = make_action(w, "&About PneumoScan\u2026", slots.show_about, ["Ctrl+F1"],
                                 "Model card, calibration and licence")
        self.shortcuts = make_action(w, "&Keyboard Shortcuts\u2026", slots.show_shortcuts, [QKeySequence.StandardKey.HelpContents, "F1"],
                                     "Every command with its key")

        self._bind(model)

    def _bind(self, model: ViewModel) -> None:
        """The toggles as views of the view model's fields; the explained class as one ticked entry."""
        for action, name in ((self.clahe, "clahe"), (self.keep_levels, "keep_levels"), (self.identity, "identity"),
                             (self.export_identity, "export_identity")):
            bind_check(action, model, name)
        bind_check(self.gradcam, model, "gradcam", model.set_gradcam)
        self.invert.setChecked(model.state.levels.invert)
        self.invert.toggled.connect(model.set_invert)
        model.watch("levels", lambda state: self.invert.setChecked(state.levels.invert))
        self.explain_choices[model.state.explained_class].setChecked(True)
        model.watch("explained_class", lambda state: self.explain_choices[state.explained_class].setChecked(True))

    def install_menus(self, window: QMainWindow, recent: QMenu, docks: tuple[QDockWidget, QDockWidget]) -> None:
        bar = window.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open)
        file_menu.addMenu(recent)
        file_menu.addActions([self.scan, self.start_scan, self.cancel_scan])
        file_menu.addSeparator()
        file_menu.addActions([self.export, self.export_identity])
        file_menu.addSeparator()
        file_menu.addActions([self.site, self.clear_site])
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        view_menu = bar.addMenu("&View")
        view_menu.addActions([self.clahe, self.invert])
        levels_menu = view_menu.addMenu("&Window/Level")
        levels_menu.addActions(self.presets)
        levels_menu.addSeparator()
        levels_menu.addActions([self.reset_levels, self.keep_levels])
        view_menu.addAction(self.identity)
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
        result_toggle = docks[0].toggleViewAction()
        result_toggle.setText("&Result Panel")
        result_toggle.setShortcut("F9")  # fold the panel away on a small screen, and back
        result_toggle.setToolTip("Show or hide the result panel (F9)")
        scan_toggle = docks[1].toggleViewAction()
        scan_toggle.setText("Folder &Scan Panel")
        scan_toggle.setShortcut("Ctrl+F9")
        scan_toggle.setToolTip("Show or hide the folder scan panel (Ctrl+F9)")
        view_menu.addActions([result_toggle, scan_toggle, self.focus_image])
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.shortcuts, self.about])

    def install_toolbar(self, window: QMainWindow) -> QToolBar:
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
