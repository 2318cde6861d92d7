"""The main window: viewer in the centre, prediction panel docked right, folder scan docked below.

The window only shows things and forwards requests: decoding runs on `ImageLoader`, the model on the
`Engine` thread; results carry request ids so a result for an image the user has left is dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QImage, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QProgressBar,
    QScrollArea,
    QStyle,
    QToolBar,
    QWidget,
)

from app import __version__
from app.core.image_io import IMAGE_SUFFIXES, LoadedImage, is_image_path
from app.core.preprocessing import PreprocessConfig
from app.core.resources import default_model_path
from app.core.screening import POSITIVE, Explanation
from app.ui.about import AboutDialog
from app.ui.engine import Engine, ImageLoader
from app.ui.export import ViewExporter, describe_view, export_name
from app.ui.imaging import ImageViews, clahe_settings
from app.ui.panel import PredictionPanel
from app.ui.recent import RecentFilesMenu
from app.ui.scan_panel import ScanPanel
from app.ui.viewer import ImageViewer

ORGANISATION = APPLICATION = "PneumoScan"
ELLIPSIS = "\u2026"
FILE_FILTER = ("X-ray images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)")


def default_settings() -> QSettings:
    return QSettings(ORGANISATION, APPLICATION)


class MainWindow(QMainWindow):
    image_shown = Signal(str)  # a new file's pixels are on screen
    prediction_shown = Signal(object)  # Prediction, once panel and overlay show it
    error_shown = Signal(str)
    view_updated = Signal()  # the displayed pixels were recomposed (CLAHE, Grad-CAM, opacity)

    def __init__(self, model_path: Path | str | None = None, settings: QSettings | None = None,
                 screener: Any = None, parent: QWidget | None = None) -> None:
        """`screener`: an already loaded `Screener` to use instead of loading `model_path` (tests)."""
        super().__init__(parent)
        self.settings = settings if settings is not None else default_settings()
        self.model_path = Path(model_path) if model_path else (screener.model_path if screener else default_model_path())
        self.engine = Engine(self)
        self.loader = ImageLoader(self)
        self.exporter = ViewExporter(self)
        self._paths: list[Path] = []
        self._index = -1
        self.current_path: Path | None = None
        self.image: LoadedImage | None = None
        self.explanation: Explanation | None = None
        self.views: ImageViews | None = None  # the image's plain and CLAHE layers
        self.heat: QImage | None = None  # the explanation's coloured heat map layer
        self._load_request = 0
        self._loading = False
        self._explain_request: int | None = None
        self._shut_down = False

        self.setWindowTitle("PneumoScan")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)  # result panel: full height
        self.viewer = ImageViewer()
        self.setCentralWidget(self.viewer)
        self._build_panel()
        self._build_scan_dock()
        self._build_actions()
        self._build_status_bar()
        self._connect()
        self._restore_settings()
        self.panel.set_model_text("Loading model\u2026")
        self.model_status.setText("Loading model\u2026")
        self._update_busy()
        # The model (TensorFlow import, 3-4 s of mostly GIL-holding work) starts loading once the window
        # has painted, so it does not slow the window's first appearance; a timer covers a hidden window.
        # (A request made earlier starts the loading at once, queued ahead of that request.)
        self.engine.load(screener if screener is not None else self.model_path, defer=True)
        self._load_started = False
        self.viewer.viewport().installEventFilter(self)
        QTimer.singleShot(1000, self.start_model_load)

    def eventFilter(self, watched: Any, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self._load_started and watched is self.viewer.viewport():
            QTimer.singleShot(0, self.start_model_load)
        return super().eventFilter(watched, event)

    def start_model_load(self) -> None:
        if self._load_started or self._shut_down:
            return
        self._load_started = True
        self.viewer.viewport().removeEventFilter(self)
        self.engine.start_loading()

    # --- construction --------------------------------------------------------------------------
    def _build_panel(self) -> None:
        self.panel = PredictionPanel()
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(330)
        self.panel_dock = QDockWidget("Result", self)
        self.panel_dock.setObjectName("ResultDock")
        self.panel_dock.setWidget(scroll)
        self.panel_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                    | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.panel_dock)

    def _build_scan_dock(self) -> None:
        self.scan_panel = ScanPanel(self.engine, self.settings)
        self.scan_dock = QDockWidget("Folder scan", self)
        self.scan_dock.setObjectName("ScanDock")
        self.scan_dock.setWidget(self.scan_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.scan_dock)
        self.scan_dock.hide()

    def _action(self, text: str, slot: Any, shortcuts: list[Any] | None = None, tip: str = "",
                icon: QStyle.StandardPixmap | None = None, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcuts:
            sequences: list[QKeySequence] = []
            for spec in shortcuts:  # a standard key may be empty (Quit on Windows) or repeat another
                sequence = QKeySequence(spec)
                if not sequence.isEmpty() and sequence not in sequences:
                    sequences.append(sequence)
            action.setShortcuts(sequences)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        action.setCheckable(checkable)
        shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        plain = text.replace("&", "").rstrip(ELLIPSIS)
        action.setToolTip((tip or plain) + (f" ({shortcut})" if shortcut else ""))
        action.setStatusTip(tip or plain)
        (action.toggled if checkable else action.triggered).connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        SP = QStyle.StandardPixmap
        self.open_action = self._action("&Open\u2026", self.choose_files, [QKeySequence.StandardKey.Open],
                                        "Open one or more X-ray images", SP.SP_DialogOpenButton)
        self.scan_action = self._action("Open &Folder to Scan\u2026", self.choose_scan_folder, ["Ctrl+Shift+O"],
                                        "Scan every image in a folder into a CSV", SP.SP_DirOpenIcon)
        self.export_action = self._action(
            "&Export View as PNG\u2026", self.choose_export_path, [QKeySequence.StandardKey.Save, "Ctrl+S"],
            "Save the full-resolution image as shown (CLAHE and heat map as toggled), with the result written inside",
            SP.SP_DialogSaveButton)
        self.export_action.setEnabled(False)  # until an image is on screen
        self.quit_action = self._action("&Quit", self.close, [QKeySequence.StandardKey.Quit, "Ctrl+Q"])
        self.prev_action = self._action("&Previous Image", self.previous_image, ["Left", "PgUp"],
                                        "Previous image of the list", SP.SP_ArrowBack)
        self.next_action = self._action("&Next Image", self.next_image, ["Right", "PgDown"],
                                        "Next image of the list", SP.SP_ArrowForward)
        for action in (self.prev_action, self.next_action):
            # only while the viewer has focus, so sliders, tables and text fields keep their arrow keys
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.removeAction(action)
            self.viewer.addAction(action)
        self.clahe_action = self._action("&CLAHE Contrast (view only)", self.set_view_clahe, ["Ctrl+E"],
                                         "Show the image with CLAHE contrast enhancement; the prediction is unchanged",
                                         checkable=True)
        self.gradcam_action = self._action("&Grad-CAM Heat Map", self.set_gradcam, ["Ctrl+G"],
                                           "Show where the evidence for the explained class lies", checkable=True)
        self.zoom_in_action = self._action("Zoom &In", self.viewer.zoom_in, [QKeySequence.StandardKey.ZoomIn, "Ctrl+="])
        self.zoom_out_action = self._action("Zoom &Out", self.viewer.zoom_out, [QKeySequence.StandardKey.ZoomOut])
        self.fit_action = self._action("&Fit to Window", self.viewer.fit, ["Ctrl+0"])
        self.actual_action = self._action("&Actual Size (100 %)", self.viewer.actual_size, ["Ctrl+1"])
        self.about_action = self._action("&About PneumoScan\u2026", self.show_about, [], "Model card and licence")

        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = RecentFilesMenu(self.settings, self)
        self.recent_menu.open_requested.connect(lambda path: self.open_paths([path]))
        file_menu.addMenu(self.recent_menu)
        file_menu.addActions([self.scan_action, self.export_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addActions([self.clahe_action, self.gradcam_action])
        view_menu.addSeparator()
        view_menu.addActions([self.zoom_in_action, self.zoom_out_action, self.fit_action, self.actual_action])
        view_menu.addSeparator()
        view_menu.addActions([self.prev_action, self.next_action])
        view_menu.addSeparator()
        result_toggle = self.panel_dock.toggleViewAction()
        result_toggle.setText("&Result Panel")
        scan_toggle = self.scan_dock.toggleViewAction()
        scan_toggle.setText("Folder &Scan Panel")
        view_menu.addActions([result_toggle, scan_toggle])
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self.about_action)

        self.toolbar = QToolBar("Main toolbar", self)
        self.toolbar.setObjectName("MainToolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toolbar.setIconSize(QSize(18, 18))
        self.toolbar.setMovable(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        self.open_action.setIconText("Open")
        self.scan_action.setIconText("Scan folder")
        self.prev_action.setIconText("Previous")
        self.next_action.setIconText("Next")
        self.clahe_action.setIconText("CLAHE (view)")
        self.gradcam_action.setIconText("Grad-CAM")
        self.zoom_in_action.setIconText("Zoom +")
        self.zoom_out_action.setIconText("Zoom \u2212")
        self.fit_action.setIconText("Fit")
        self.actual_action.setIconText("1:1")
        self.toolbar.addActions([self.open_action, self.scan_action])
        self.toolbar.addSeparator()
        self.toolbar.addActions([self.prev_action, self.next_action])
        self.toolbar.addSeparator()
        self.toolbar.addActions([self.clahe_action, self.gradcam_action])
        self.toolbar.addSeparator()
        self.toolbar.addActions([self.zoom_out_action, self.zoom_in_action, self.fit_action, self.actual_action])
        self._update_navigation()

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setFixedWidth(90)
        self.busy_bar.setMaximumHeight(12)
        self.zoom_label = QLabel("")
        self.zoom_label.setMinimumWidth(60)
        self.model_status = QLabel("")
        bar.addPermanentWidget(self.busy_bar)
        bar.addPermanentWidget(self.zoom_label)
        bar.addPermanentWidget(self.model_status)

    def _connect(self) -> None:
        self.loader.loaded.connect(self._on_image_loaded)
        self.loader.failed.connect(self._on_image_failed)
        self.exporter.saved.connect(lambda path: self.statusBar().showMessage(f"Saved the view to {path}", 15000))
        self.exporter.failed.connect(self._on_export_failed)
        self.engine.model_loaded.connect(self._on_model_loaded)
        self.engine.model_failed.connect(self._on_model_failed)
        self.engine.explained.connect(self._on_explained)
        self.engine.explain_failed.connect(self._on_explain_failed)
        self.viewer.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f} %"))
        self.panel.gradcam_check.toggled.connect(self.gradcam_action.setChecked)
        self.gradcam_action.toggled.connect(self.panel.gradcam_check.setChecked)
        self.panel.opacity_changed.connect(self._on_opacity)
        self.panel.explained_class_changed.connect(self._on_explained_class)
        self.scan_panel.open_requested.connect(self.open_paths)
        self.scan_panel.running_changed.connect(lambda _r: self._update_busy())
        self.scan_panel.status_message.connect(lambda m: self.statusBar().showMessage(m, 15000))

    # --- settings ------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            screen = self.screen().availableGeometry() if self.screen() else None
            width, height = (1400, 900) if screen is None else (
                min(1400, int(screen.width() * 0.92)), min(900, int(screen.height() * 0.92)))
            self.resize(width, height)
        state = s.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        self.panel.set_opacity(s.value("view/opacity", 0.4, type=float))
        self.panel.set_explained_class(s.value("view/explained_class", POSITIVE, type=str))
        self.clahe_action.setChecked(s.value("view/clahe", False, type=bool))
        self.gradcam_action.setChecked(s.value("view/gradcam", True, type=bool))
        self.panel.set_view_clahe(self.clahe_action.isChecked())

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("view/clahe", self.clahe_action.isChecked())
        s.setValue("view/gradcam", self.gradcam_action.isChecked())
        s.setValue("view/opacity", self.panel.opacity)
        s.setValue("view/explained_class", self.panel.explained_class)
        s.sync()

    @property
    def last_folder(self) -> str:
        return self.settings.value("paths/last_folder", "", type=str)

    @property
    def last_file(self) -> str:
        return self.settings.value("paths/last_file", "", type=str)

    def open_initial(self, path: Path | str | None = None) -> None:
        """At start-up: the file from the command line, else the last file if it still exists."""
        if path:
            self.handle_dropped([Path(path)])  # a folder is offered for a scan, a file is opened
        elif self.last_file and Path(self.last_file).is_file():
            self.open_paths([Path(self.last_file)])

    # --- opening -------------------------------------------------------------------------------
    def choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Open X-ray images", self.last_folder, FILE_FILTER)
        if names:
            self.open_paths([Path(n) for n in names])

    def choose_scan_folder(self) -> None:
        start = self.scan_panel.folder_edit.text() or self.last_folder
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of X-rays to scan", start)
        if folder:
            self.offer_scan(Path(folder))

    def offer_scan(self, folder: Path) -> None:
        """Show the scan panel ready to scan `folder`; the user checks the CSV and presses Start."""
        if not self.scan_panel.running:
            self.scan_panel.set_folder(Path(folder))
        self.scan_dock.show()
        self.scan_dock.raise_()
        self.scan_panel.start_button.setFocus()
        self.statusBar().showMessage(f"Press \u201cStart scan\u201d to scan {folder}.", 15000)

    def open_paths(self, paths: list[Path] | list[str], index: int = 0) -> None:
        """Show `paths[index]`; the others are a list to step through (arrow keys, PageUp/PageDown)."""
        paths = [Path(p) for p in paths]
        if not paths:
            return
        index = max(0, min(index, len(paths) - 1))
        same = self.current_path is not None and paths[index] == self.current_path and (self.image or self._loading)
        self._paths, self._index = paths, index
        self._update_navigation()
        if same:
            return
        self._show_current()

    def next_image(self) -> None:
        if self._index + 1 < len(self._paths):
            self._index += 1
            self._show_current()
        elif self._paths:
            self.statusBar().showMessage("This is the last image of the list.", 3000)

    def previous_image(self) -> None:
        if self._index > 0:
            self._index -= 1
            self._show_current()
        elif self._paths:
            self.statusBar().showMessage("This is the first image of the list.", 3000)

    def _position(self) -> str:
        return f"image {self._index + 1} of {len(self._paths)}" if len(self._paths) > 1 else ""

    def _update_navigation(self) -> None:
        self.prev_action.setEnabled(self._index > 0)
        self.next_action.setEnabled(0 <= self._index < len(self._paths) - 1)

    def _show_current(self) -> None:
        path = self._paths[self._index]
        self._update_navigation()
        self._load_request += 1
        self._loading = True
        self._explain_request = None
        self.current_path = path
        self.image, self.explanation, self.views, self.heat = None, None, None, None
        self.export_action.setEnabled(False)
        self.setWindowTitle(f"{path.name} \u2014 PneumoScan")
        self.panel.show_opening(path, self._position())
        self.statusBar().showMessage(f"Opening {path}\u2026")
        self.settings.setValue("paths/last_folder", str(path.parent))
        self.loader.load(self._load_request, path, self._view_config())
        self._update_busy()

    def _view_config(self) -> PreprocessConfig:
        """The CLAHE settings of the view: the model card's once it has loaded, else the defaults."""
        return self.engine.card.preprocessing if self.engine.card else PreprocessConfig()

    def _on_image_loaded(self, request: int, path: str, views: ImageViews) -> None:
        if request != self._load_request:
            return  # the user has moved on
        self._loading = False
        self.views, self.image = views, views.image
        self.settings.setValue("paths/last_file", path)
        self.recent_menu.add(Path(path))
        self.panel.show_image_info(Path(path), self.image.width, self.image.height, self.image.source_format,
                                   self._position())
        self.refresh_view(reset=True)
        self.image_shown.emit(path)
        focus = QApplication.focusWidget()
        if focus is None or not self.scan_dock.isAncestorOf(focus):  # keep the keyboard in the scan table
            self.viewer.setFocus()
        self._request_explanation()

    def _on_image_failed(self, request: int, path: str, message: str) -> None:
        if request != self._load_request:
            return
        self._loading = False
        self.image = None
        self.viewer.clear(f"Could not open {Path(path).name}")
        self.panel.show_error(message, "Cannot open this file")
        self.panel.image_info.setText(self._position())
        self.statusBar().showMessage(f"Could not open {Path(path).name}: {message}")
        self._update_busy()
        self.error_shown.emit(message)

    # --- prediction ----------------------------------------------------------------------------
    def _request_explanation(self) -> None:
        if self.image is None:
            return
        if self.engine.error is not None:
            self.panel.show_prediction_unavailable(f"The model is not available: {self.engine.error}")
            self._update_busy()
            return
        self.panel.show_analysing(self.engine.ready)
        self.statusBar().showMessage(
            f"Analysing {self.current_path.name if self.current_path else ''}\u2026"
            + (" (between scan batches)" if self.scan_panel.running else ""))
        self._explain_request = self.engine.explain(self.image, self.panel.explained_class)
        self._update_busy()

    def _on_explained(self, request: int, explanation: Explanation, heat: QImage) -> None:
        if request != self._explain_request:
            return  # a result for an image (or class) the user has left
        self._explain_request = None
        self.explanation, self.heat = explanation, heat
        p = explanation.prediction
        self.panel.show_prediction(explanation)
        if self.gradcam_action.isChecked():
            self.refresh_view()
        name = self.current_path.name if self.current_path else ""
        self.statusBar().showMessage(
            f"{name}: {p.display_label} \u00b7 probability of pneumonia {p.probability:.3f} "
            f"(threshold {p.threshold:.3f})" + (f" \u00b7 {len(p.warnings)} warning(s)" if p.warnings else ""))
        self._update_busy()
        self.prediction_shown.emit(p)

    def _on_explain_failed(self, request: int, message: str) -> None:
        if request != self._explain_request:
            return
        self._explain_request = None
        self.panel.show_prediction_unavailable(message)
        self.statusBar().showMessage(f"No prediction: {message}")
        self._update_busy()
        self.error_shown.emit(message)

    def _on_explained_class(self, _name: str) -> None:
        self.settings.setValue("view/explained_class", self.panel.explained_class)
        if self.image is not None and self.engine.error is None:
            self._request_explanation()

    @property
    def prediction(self) -> Any:
        return self.explanation.prediction if self.explanation else None

    # --- model ---------------------------------------------------------------------------------
    def _on_model_loaded(self, card: Any) -> None:
        self.model_status.setText(f"Model {card.version} ready")
        self.panel.set_model_text(f"Model: {card.name} {card.version} \u00b7 threshold {card.threshold:.3f}")
        if self._explain_request is not None:
            self.panel.show_analysing(True)
        if self.views is not None and self.views.clahe_settings != clahe_settings(card.preprocessing):
            self._show_current()  # rebuild the CLAHE view with this model's settings
        self._update_busy()

    def _on_model_failed(self, message: str) -> None:
        self.model_status.setText("Model unavailable")
        self.panel.set_model_text(f"Model unavailable: {message}")
        self.statusBar().showMessage(f"The model could not be loaded: {message}")
        self._update_busy()
        self.error_shown.emit(message)

    def show_about(self) -> None:
        AboutDialog(self.engine.card, self.engine.error, str(self.model_path), self).exec()

    # --- view ----------------------------------------------------------------------------------
    def set_view_clahe(self, enabled: bool) -> None:
        self.settings.setValue("view/clahe", enabled)
        self.panel.set_view_clahe(enabled)
        self.refresh_view()

    def set_gradcam(self, enabled: bool) -> None:
        self.settings.setValue("view/gradcam", enabled)
        self.refresh_view()

    def _on_opacity(self, value: float) -> None:
        self.settings.setValue("view/opacity", value)
        if self.gradcam_action.isChecked() and self.heat is not None:
            self.refresh_view()

    def refresh_view(self, reset: bool = False) -> None:
        """Show the ready layers that the toggles ask for; nothing is computed here."""
        if self.views is None:
            return
        self.viewer.set_image(self.views.clahe if self.clahe_action.isChecked() else self.views.plain, reset_view=reset)
        self.viewer.set_overlay(self.heat if self.gradcam_action.isChecked() else None, self.panel.opacity)
        self.export_action.setEnabled(True)
        self.view_updated.emit()

    # --- export --------------------------------------------------------------------------------
    def choose_export_path(self) -> None:
        if self.views is None or self.current_path is None:
            return
        folder = self.settings.value("paths/last_export_folder", "", type=str) or str(self.current_path.parent)
        name = export_name(self.current_path, self.viewer.heat is not None)
        path, _ = QFileDialog.getSaveFileName(self, "Export the view as PNG", str(Path(folder) / name), "PNG image (*.png)")
        if path:
            self.export_view(Path(path) if path.lower().endswith(".png") else Path(path + ".png"))

    def export_view(self, path: Path) -> None:
        """Write the view as shown, at full resolution, on the exporter's thread."""
        composite = self.viewer.composite()
        if composite is None or self.current_path is None:
            return
        heat_shown = self.viewer.heat is not None
        description = describe_view(self.current_path, self.explanation, self.clahe_action.isChecked(),
                                    self.panel.opacity if heat_shown else None)
        self.settings.setValue("paths/last_export_folder", str(Path(path).parent))
        self.statusBar().showMessage(f"Saving the view to {path}\u2026")
        self.exporter.export(composite, Path(path), description, f"PneumoScan {__version__}")

    def _on_export_failed(self, _path: str, message: str) -> None:
        self.statusBar().showMessage(message, 15000)
        self.error_shown.emit(message)

    def _update_busy(self) -> None:
        model_loading = not self.engine.ready and self.engine.error is None
        busy = self._loading or self._explain_request is not None or self.scan_panel.running or model_loading
        self.busy_bar.setVisible(busy)
        self.panel.busy.setVisible(self._loading or self._explain_request is not None)

    # --- drag and drop -------------------------------------------------------------------------
    @staticmethod
    def _local_paths(event: QDragEnterEvent | QDropEvent) -> list[Path]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._local_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: ANN001
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = self._local_paths(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.handle_dropped(paths)

    def handle_dropped(self, paths: list[Path]) -> None:
        folders = [p for p in paths if p.is_dir()]
        files = [p for p in paths if not p.is_dir()]
        if len(files) > 1:
            images = [p for p in files if is_image_path(p)]
            files = images or files
        if files:
            self.open_paths(files)
        if folders:
            self.offer_scan(folders[0])

    # --- shutdown ------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        self.loader.shutdown()
        self.exporter.shutdown()
        self.engine.shutdown()

    # test and benchmark helpers -----------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._loading or self._explain_request is not None
