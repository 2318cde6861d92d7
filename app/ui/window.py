"""The main window: viewer in the centre, result panel docked right, folder scan docked below.

The window only shows things and forwards requests: decoding runs on `ImageLoader`, the model on the
`Engine` thread; `Session` (Qt-free) holds the open list and the request ids, so a result for an image
the user has left is dropped. The commands, menus and toolbar are built by `WindowCommands`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, QEvent, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QProgressBar,
    QScrollArea,
    QWidget,
)

from app import __version__
from app.core.image_io import IMAGE_SUFFIXES, LoadedImage, is_image_path
from app.core.preprocessing import PreprocessConfig
from app.core.resources import default_model_path
from app.core.screening import Explanation
from app.ui.about import AboutDialog
from app.ui.actions import WindowCommands
from app.ui.engine import Engine, ImageLoader
from app.ui.export import ViewExporter, describe_view, export_name
from app.ui.imaging import ImageViews, clahe_settings, gray_to_qimage
from app.ui.levels import PRESETS, Levels
from app.ui.numbers import probability_text, threshold_text
from app.ui.panel import PREDICTED, PredictionPanel, needs_caution
from app.ui.recent import RecentFilesMenu
from app.ui.scan_panel import ScanPanel
from app.ui.session import Session
from app.ui.viewer import ImageViewer

ORGANISATION = APPLICATION = "PneumoScan"
FILE_FILTER = ("X-ray images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)")
PANEL_WIDTH = 330


def default_settings() -> QSettings:
    return QSettings(ORGANISATION, APPLICATION)


def gray_pixels(image: QImage) -> np.ndarray:
    """A Grayscale8 QImage's pixels as an (H, W) array (a copy, so the image may go)."""
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes()).reshape(height, stride)
    return data[:, :width].copy()


class MainWindow(QMainWindow):
    image_shown = Signal(str)  # a new file's pixels are on screen
    prediction_shown = Signal(object)  # Prediction, once panel and overlay show it
    error_shown = Signal(str)
    view_updated = Signal()  # the displayed pixels were recomposed (CLAHE, levels, Grad-CAM, opacity)

    def __init__(self, model_path: Path | str | None = None, settings: QSettings | None = None,
                 screener: Any = None, parent: QWidget | None = None) -> None:
        """`screener`: an already loaded `Screener` to use instead of loading `model_path` (tests)."""
        super().__init__(parent)
        self.settings = settings if settings is not None else default_settings()
        self.model_path = Path(model_path) if model_path else (screener.model_path if screener else default_model_path())
        self.engine = Engine(self)
        self.loader = ImageLoader(self)
        self.exporter = ViewExporter(self)
        self.session = Session()
        self.views: ImageViews | None = None  # the image's plain and CLAHE layers
        self.heat: QImage | None = None  # the explanation's coloured heat map layer
        self.levels = Levels()
        self._levelled: tuple[tuple[int, Levels], QImage] | None = None  # (layer key, levels) -> shown layer
        self._levels_pending = False
        self._heat_held = False  # Grad-CAM is ticked but kept off for a result that needs caution
        self._shut_down = False

        self.setWindowTitle("PneumoScan")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)  # result panel: full height
        self.viewer = ImageViewer()
        self.setCentralWidget(self.viewer)
        self._build_panel()
        self._build_scan_dock()
        self.commands = WindowCommands(self)
        self.recent_menu = RecentFilesMenu(self.settings, self)
        self.recent_menu.open_requested.connect(lambda path: self.open_paths([path]))
        self.commands.install_menus(self, self.recent_menu)
        self.toolbar = self.commands.install_toolbar(self)
        self._build_status_bar()
        self._connect()
        self._restore_settings()
        self._update_navigation()
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

    # --- what is shown ---------------------------------------------------------------------------
    @property
    def current_path(self) -> Path | None:
        return self.session.current_path

    @property
    def image(self) -> LoadedImage | None:
        return self.session.image

    @property
    def explanation(self) -> Explanation | None:
        return self.session.explanation

    @property
    def prediction(self) -> Any:
        return self.explanation.prediction if self.explanation else None

    @property
    def busy(self) -> bool:
        return self.session.busy

    # --- construction --------------------------------------------------------------------------
    def _build_panel(self) -> None:
        self.panel = PredictionPanel()
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(PANEL_WIDTH)
        self.panel_scroll = scroll
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

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setFixedWidth(90)
        self.busy_bar.setMaximumHeight(12)
        self.zoom_label = QLabel("")
        self.zoom_label.setMinimumWidth(80)
        self.zoom_label.setToolTip("Zoom: 100 % shows one image pixel per screen pixel")
        self.model_status = QLabel("")
        bar.addPermanentWidget(self.busy_bar)
        bar.addPermanentWidget(self.zoom_label)
        bar.addPermanentWidget(self.model_status)

    def _connect(self) -> None:
        self.loader.loaded.connect(self._on_image_loaded)
        self.loader.failed.connect(self._on_image_failed)
        self.loader.rebuilt.connect(self._on_views_rebuilt)
        self.exporter.saved.connect(lambda path: self.statusBar().showMessage(f"Saved the view to {path}", 15000))
        self.exporter.failed.connect(self._on_export_failed)
        self.engine.model_loaded.connect(self._on_model_loaded)
        self.engine.model_failed.connect(self._on_model_failed)
        self.engine.explained.connect(self._on_explained)
        self.engine.explain_failed.connect(self._on_explain_failed)
        self.viewer.zoom_changed.connect(lambda z: self.zoom_label.setText(f"Zoom {z * 100:.0f} %"))
        self.viewer.levels_dragged.connect(lambda dx, dy: self.set_levels(self.levels.dragged(dx, dy)))
        self.panel.gradcam_check.toggled.connect(self.commands.gradcam.setChecked)
        self.commands.gradcam.toggled.connect(self.panel.gradcam_check.setChecked)
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
        self.panel.set_explained_class(s.value("view/explain", PREDICTED, type=str))
        self.commands.show_explained_class(self.panel.explained_class)
        self.commands.clahe.setChecked(s.value("view/clahe", False, type=bool))
        self.commands.gradcam.setChecked(s.value("view/gradcam", True, type=bool))
        self.panel.set_view_clahe(self.commands.clahe.isChecked())

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("view/clahe", self.commands.clahe.isChecked())
        s.setValue("view/gradcam", self.commands.gradcam.isChecked() or self._heat_held)
        s.setValue("view/opacity", self.panel.opacity)
        s.setValue("view/explain", self.panel.explained_class)
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
        load = self.session.open(paths, index)
        self._update_navigation()
        if load:
            self._show_current()
        else:
            self.panel.image_info.setText(self._image_details())

    def next_image(self) -> None:
        if self.session.step(+1):
            self._show_current()
        elif self.session.paths:
            self.statusBar().showMessage("This is the last image of the list.", 3000)

    def previous_image(self) -> None:
        if self.session.step(-1):
            self._show_current()
        elif self.session.paths:
            self.statusBar().showMessage("This is the first image of the list.", 3000)

    def _update_navigation(self) -> None:
        self.commands.previous.setEnabled(self.session.can_go_back)
        self.commands.next.setEnabled(self.session.can_go_on)

    def _image_details(self) -> str:
        image, position = self.image, self.session.position()
        if image is None:
            return position
        details = f"{image.width} \u00d7 {image.height} px \u00b7 {image.source_format}"
        return f"{details} \u00b7 {position}" if position else details

    def _show_current(self) -> None:
        path = self.session.current_path
        self._update_navigation()
        request = self.session.begin_load()
        self.views, self.heat = None, None
        self._restore_held_heat()
        self.commands.export.setEnabled(False)
        self.setWindowTitle(f"{path.name} \u2014 PneumoScan")
        self.panel.show_opening(path, self.session.position())
        self.statusBar().showMessage(f"Opening {path}\u2026")
        self.settings.setValue("paths/last_folder", str(path.parent))
        self.loader.load(request, path, self._view_config())
        self._update_busy()

    def _view_config(self) -> PreprocessConfig:
        """The CLAHE settings of the view: the model card's once it has loaded, else the defaults."""
        return self.engine.card.preprocessing if self.engine.card else PreprocessConfig()

    def _on_image_loaded(self, request: int, path: str, views: ImageViews) -> None:
        if not self.session.finish_load(request, views.image):
            return  # the user has moved on
        self.views = views
        self._request_explanation()  # first: the engine thread works while this thread paints the image
        self.settings.setValue("paths/last_file", path)
        self.recent_menu.add(Path(path))
        self.panel.show_image_info(Path(path), views.image.width, views.image.height, views.image.source_format,
                                   self.session.position())
        self.refresh_view(reset=True)
        self.image_shown.emit(path)
        focus = QApplication.focusWidget()
        if focus is None or not self.scan_dock.isAncestorOf(focus):  # keep the keyboard in the scan table
            self.viewer.setFocus()

    def _on_image_failed(self, request: int, path: str, message: str) -> None:
        if not self.session.fail_load(request):
            return
        self.viewer.clear(f"Could not open {Path(path).name}")
        self.commands.gradcam.setEnabled(False)
        self.panel.show_error(message, "Cannot open this file")
        self.panel.image_info.setText(self.session.position())
        self.statusBar().showMessage(f"Could not open {Path(path).name}: {message}")
        self._update_busy()
        self.error_shown.emit(message)

    # --- prediction ----------------------------------------------------------------------------
    def _request_explanation(self) -> None:
        if self.image is None:
            return
        if self.engine.error is not None:
            self._show_no_prediction(f"The model is not available: {self.engine.error}")
            self._update_busy()
            return
        self.panel.show_analysing(self.engine.ready)
        self.statusBar().showMessage(
            f"Analysing {self.current_path.name if self.current_path else ''}\u2026"
            + (" (between scan batches)" if self.scan_panel.running else ""))
        self.session.begin_explain(self.engine.explain(self.current_path, self.image, self.panel.explained_class))
        self._update_busy()

    def _on_explained(self, request: int, explanation: Explanation, heat: QImage) -> None:
        first = self.session.explanation is None  # not another explained class of the image on screen
        if not self.session.finish_explain(request, explanation):
            return  # a result for an image (or class) the user has left
        self.heat = heat
        p = explanation.prediction
        self.panel.show_prediction(explanation)
        self.commands.gradcam.setEnabled(True)
        if first and needs_caution(p) and self.commands.gradcam.isChecked():
            self._hold_heat()  # not a finding: no coloured map unless the user asks for it (then it stays)
        elif self._heat_held:
            self.panel.note_heat_hidden()  # still held: the new panel says so again
        self.refresh_view()
        name = self.current_path.name if self.current_path else ""
        self.statusBar().showMessage(
            f"{name}: {p.display_label} \u00b7 probability of pneumonia {probability_text(p.probability)} "
            f"(threshold {threshold_text(p.threshold)})" + (f" \u00b7 {len(p.warnings)} warning(s)" if p.warnings else ""))
        self._update_busy()
        self.prediction_shown.emit(p)

    def _on_explain_failed(self, request: int, message: str) -> None:
        if not self.session.finish_explain(request):
            return
        self._show_no_prediction(message)
        self.statusBar().showMessage(f"No prediction: {message}")
        self._update_busy()
        self.error_shown.emit(message)

    def _show_no_prediction(self, message: str) -> None:
        self.panel.show_prediction_unavailable(message)
        self.commands.gradcam.setEnabled(False)

    def _on_explained_class(self, name: str) -> None:
        self.settings.setValue("view/explain", name)
        self.commands.show_explained_class(name)
        if self.image is not None and self.engine.error is None:
            self._request_explanation()

    # --- model ---------------------------------------------------------------------------------
    def _on_model_loaded(self, card: Any) -> None:
        self.model_status.setText(f"Model {card.version} ready")
        self.panel.set_model_text(f"Model: {card.name} {card.version} \u00b7 threshold {threshold_text(card.threshold)}")
        if self.session.explain_request is not None:
            self.panel.show_analysing(True)
        if self.views is not None and self.views.clahe_settings != clahe_settings(card.preprocessing):
            # the CLAHE layer with this model's settings, from the image already decoded
            self.loader.rebuild(self.session.load_request, self.views.image, card.preprocessing)
        self._update_busy()

    def _on_views_rebuilt(self, request: int, views: ImageViews) -> None:
        if request == self.session.load_request and self.views is not None and views.image is self.views.image:
            self.views = views
            self.refresh_view()

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
        if enabled:
            self._heat_held = False  # asked for: shown, whatever the result
        self.settings.setValue("view/gradcam", enabled or self._heat_held)
        self.refresh_view()

    def _hold_heat(self) -> None:
        self._heat_held = True
        self.commands.gradcam.setChecked(False)
        self._heat_held = True  # set_gradcam(False) ran in between
        self.panel.note_heat_hidden()

    def _restore_held_heat(self) -> None:
        if self._heat_held:
            self._heat_held = False
            self.commands.gradcam.setChecked(True)

    def step_opacity(self, step: float) -> None:
        self.panel.set_opacity(self.panel.opacity + step)

    def _on_opacity(self, value: float) -> None:
        self.settings.setValue("view/opacity", value)
        if self.commands.gradcam.isChecked() and self.heat is not None:
            self.refresh_view()

    def set_invert(self, inverted: bool) -> None:
        self.set_levels(Levels(self.levels.window, self.levels.level, inverted))

    def apply_preset(self, name: str) -> None:
        width, level = PRESETS[name]
        self.set_levels(Levels(width, level, self.levels.invert))

    def reset_levels(self) -> None:
        self.set_levels(Levels())

    def set_levels(self, levels: Levels) -> None:
        """New window/level; drag events are coalesced, so the view is recomposed once per event loop turn."""
        self.levels = levels
        if self.commands.invert.isChecked() != levels.invert:
            self.commands.invert.setChecked(levels.invert)  # calls set_invert, which changes nothing more
        if not self._levels_pending:
            self._levels_pending = True
            QTimer.singleShot(0, self._apply_levels)

    def _apply_levels(self) -> None:
        self._levels_pending = False
        self.refresh_view()
        description = self.levels.describe()
        self.statusBar().showMessage(f"View: {description}" if description else "View: full grey range", 3000)

    def _shown_layer(self) -> tuple[QImage, bool]:
        """The grey layer to show and whether it was made for this moment (window/level applied)."""
        assert self.views is not None
        layer = self.views.clahe if self.commands.clahe.isChecked() else self.views.plain
        if self.levels.identity:
            return layer, False
        key = (layer.cacheKey(), self.levels)
        if self._levelled is None or self._levelled[0] != key:
            self._levelled = (key, gray_to_qimage(self.levels.apply(gray_pixels(layer))))
        return self._levelled[1], True

    def refresh_view(self, reset: bool = False) -> None:
        """Show the ready layers that the toggles ask for; only window/level is computed here."""
        if self.views is None:
            return
        layer, transient = self._shown_layer()
        self.viewer.set_image(layer, reset_view=reset, transient=transient)
        self.viewer.set_overlay(self.heat if self.commands.gradcam.isChecked() else None, self.panel.opacity)
        self.commands.export.setEnabled(True)
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
        description = describe_view(self.current_path, self.explanation, self.commands.clahe.isChecked(),
                                    self.panel.opacity if heat_shown else None, self.levels.describe())
        self.settings.setValue("paths/last_export_folder", str(Path(path).parent))
        self.statusBar().showMessage(f"Saving the view to {path}\u2026")
        self.exporter.export(composite, Path(path), description, f"PneumoScan {__version__}")

    def _on_export_failed(self, _path: str, message: str) -> None:
        self.statusBar().showMessage(message, 15000)
        self.error_shown.emit(message)

    def _update_busy(self) -> None:
        model_loading = not self.engine.ready and self.engine.error is None
        self.busy_bar.setVisible(self.session.busy or self.scan_panel.running or model_loading)
        self.panel.busy.setVisible(self.session.busy)

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
