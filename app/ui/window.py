"""The main window: viewer in the centre, result panel docked right, folder scan docked below.

The window only shows things and forwards requests: decoding and PNG writing run as `Worker`s on
pools of their own, the model on the `Engine`'s thread; `Session` (Qt-free) holds the open list, the
request ids and the model's copy, so a result for an image the user has left is dropped, and
`ViewModel` (Qt-free) holds the view toggles that menus, toolbar and panel show. The commands, menus
and toolbar are built by `WindowCommands`; `ViewControls` composes the view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QMessageBox, QWidget

from app import __version__
from app.core.errors import describe_error
from app.core.io.images import IMAGE_SUFFIXES, LoadedImage
from app.core.io.preprocessing import PreprocessConfig
from app.core.model.scope import NOT_XRAY
from app.core.numbers import probability_text, threshold_text
from app.core.resources import default_model_path
from app.core.screening import Explanation
from app.ui.about import AboutDialog
from app.ui.actions import WindowCommands
from app.ui.docks import add_result_dock, add_scan_dock, restore_geometry
from app.ui.drops import accept_drag, split_drop, take_drop
from app.ui.engine import Engine
from app.ui.export import describe_view, export_name, save_failure, save_png
from app.ui.imaging import ImageViews, clahe_settings, image_views
from app.ui.loading import model_copy, open_file
from app.ui.model_start import ModelStart
from app.ui.panel import PredictionPanel, badge_of, needs_caution
from app.ui.recent import RecentFilesMenu
from app.ui.scan_panel import ScanPanel
from app.ui.session import Session
from app.ui.shortcuts import ShortcutsDialog, shortcut_rows
from app.ui.status_bar import WindowStatusBar
from app.ui.view_controls import ViewControls, bind_panel
from app.ui.view_model import ViewModel, ViewState
from app.ui.viewer import ImageViewer
from app.ui.worker import Worker, WorkerPool, as_generator, start_worker

ORGANISATION = APPLICATION = "PneumoScan"
FILE_FILTER = ("X-ray images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)")
SITE_KEY = "model/site"  # the site calibration file in force, remembered across sessions


def default_settings() -> QSettings:
    return QSettings(ORGANISATION, APPLICATION)


class MainWindow(QMainWindow):
    image_shown = Signal(str)  # a new file's pixels are on screen
    prediction_shown = Signal(object)  # Prediction, once panel and overlay show it
    error_shown = Signal(str)
    view_updated = Signal()  # the displayed pixels were recomposed (CLAHE, levels, Grad-CAM, opacity)
    view_saved = Signal(str)  # an exported PNG is complete at this path

    def __init__(self, model_path: Path | str | None = None, settings: QSettings | None = None,
                 screener: Any = None, parent: QWidget | None = None) -> None:
        """`screener`: an already loaded `Screener` to use instead of loading `model_path` (tests)."""
        super().__init__(parent)
        self.settings = settings if settings is not None else default_settings()
        self.model_path = Path(model_path) if model_path else (screener.model_path if screener else default_model_path())
        self.session = Session()
        self.view_model = ViewModel()
        self.engine = Engine(self)
        self.loads, self.saves = WorkerPool(self), WorkerPool(self)  # decoding; PNG writing
        self._loading: Worker | None = None
        self._explain_error: str | None = None  # an engine failure that waits for the image's own load result
        self._shut_down = False
        self._build()
        self._connect()
        restore_geometry(self, self.settings)
        self.view_controls.restore()
        self._update_navigation()
        self.panel.set_model_text("Loading model\u2026")
        self.status_bar.model_status.setText("Loading model\u2026")
        self._update_busy()
        self.engine.load(screener if screener is not None else self.model_path, defer=True,
                         site=self.settings.value(SITE_KEY, "", type=str))
        self.model_start = ModelStart(self.engine, self.viewer.viewport(), self)  # loads once the window has painted

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
    def views(self) -> ImageViews | None:
        """The image's plain and CLAHE layers."""
        return self.view_controls.views

    @property
    def heat(self) -> QImage | None:
        """The explanation's coloured heat map layer."""
        return self.view_controls.heat

    @property
    def busy(self) -> bool:
        return self.session.busy

    # --- construction --------------------------------------------------------------------------
    def _build(self) -> None:
        self.setWindowTitle("PneumoScan")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)  # result panel: full height
        self.viewer = ImageViewer()
        self.setCentralWidget(self.viewer)
        self.view_controls = ViewControls(self.view_model, self.session, self.viewer, self.settings, self)
        self.panel = PredictionPanel()
        self.panel_scroll, self.panel_dock = add_result_dock(self, self.panel)
        self.scan_panel = ScanPanel(self.engine, self.settings)
        self.scan_dock = add_scan_dock(self, self.scan_panel)
        self.commands = WindowCommands(self, self, self.viewer, self.view_controls, self.scan_panel)
        bind_panel(self.panel, self.view_model)
        self.recent_menu = RecentFilesMenu(self.settings, self)
        self.commands.install_menus(self, self.recent_menu, (self.panel_dock, self.scan_dock))
        self.toolbar = self.commands.install_toolbar(self)
        self.status_bar = WindowStatusBar()
        self.setStatusBar(self.status_bar)

    def _connect(self) -> None:
        self.recent_menu.open_requested.connect(lambda path: self.open_paths([path]))
        self.engine.model_loaded.connect(self._on_model_loaded)
        self.engine.model_failed.connect(self._on_model_failed)
        self.engine.site_changed.connect(self._on_site_changed)
        self.engine.site_failed.connect(self._on_site_failed)
        self.engine.explained.connect(self._on_explained)
        self.engine.explain_failed.connect(self._on_explain_failed)
        self.view_model.observe(self._on_view_change)
        self.view_controls.updated.connect(lambda: self.commands.export.setEnabled(True))
        self.view_controls.updated.connect(self.view_updated)
        self.viewer.zoom_changed.connect(self.status_bar.show_zoom)
        self.viewer.levels_dragged.connect(self.view_controls.drag_levels)
        self.scan_panel.open_requested.connect(self.open_paths)
        self.scan_panel.running_changed.connect(lambda _r: self._update_busy())
        self.scan_panel.running_changed.connect(self._on_scan_running)
        self.scan_panel.status_message.connect(lambda m: self.statusBar().showMessage(m, 15000))

    # --- settings ------------------------------------------------------------------------------
    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        self.view_controls.save()
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
            self.scan_panel.offer_subfolders(Path(folder))
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
        assert path is not None
        self._update_navigation()
        request = self.session.begin_load(wants_result=self.engine.error is None)
        self.view_controls.views = self.view_controls.heat = None
        self.view_model.new_image()
        self.view_model.release_held_heat()
        self.commands.export.setEnabled(False)
        self.setWindowTitle(f"{path.name} \u2014 PneumoScan")
        self.panel.show_opening(path, self.session.position())
        self.statusBar().showMessage(f"Opening {path}\u2026")
        self.settings.setValue("paths/last_folder", str(path.parent))
        self._explain_error = None
        self._load(request, path)
        self._request_explanation()  # says what is coming; the model's copy asks for the result when it arrives
        self._update_busy()

    def _load(self, request: int, path: Path) -> None:
        """Decode `path` on the loader: the model's copy first (the engine scores it meanwhile), then the view layers."""
        if self._loading is not None and not self._loading.done:
            self._loading.quit()  # the user has moved on: not started, it never reads the file
        card = self.engine.card
        work = open_file(path, card.preprocessing if card else PreprocessConfig(), card.input_size if card else None)
        self._loading = start_worker(
            self.loads, work, self,
            yielded=lambda part: (self._on_image_loaded if isinstance(part, ImageViews) else self._on_model_copy)(request, part),
            errored=lambda exc: self._on_image_failed(request, path, describe_error(exc)))

    def _on_model_copy(self, request: int, copy: LoadedImage) -> None:
        if self.session.take_copy(request, copy):
            self._request_explanation()

    def _on_image_loaded(self, request: int, views: ImageViews) -> None:
        if not self.session.finish_load(request, views.image):
            return  # the user has moved on
        path = self.session.current_path
        assert path is not None
        self.view_controls.views = views
        self.settings.setValue("paths/last_file", str(path))
        self.recent_menu.add(path)
        self.panel.show_image_info(path, views.image.width, views.image.height, views.image.source_format,
                                   self.session.position())
        self.view_controls.refresh(reset=True)
        self.image_shown.emit(str(path))
        focus = QApplication.focusWidget()
        if focus is None or not self.scan_dock.isAncestorOf(focus):  # keep the keyboard in the scan table
            self.viewer.setFocus()
        if self._explain_error is not None:  # the picture opened, the model could not score it
            self._show_explain_failure(self._explain_error)
        elif self.session.explanation is not None:  # the result came first: it is on screen only now
            self.prediction_shown.emit(self.prediction)
        self._follow_card()
        self._update_busy()

    def _on_image_failed(self, request: int, path: Path, message: str) -> None:
        if not self.session.fail_load(request):
            return
        self.viewer.clear(f"Could not open {path.name}")
        self.commands.gradcam.setEnabled(False)
        self.panel.show_error(message, "Cannot open this file")
        self.panel.image_info.setText(self.session.position())
        self.statusBar().showMessage(f"Could not open {path.name}: {message}")
        self._update_busy()
        self.error_shown.emit(message)

    def _follow_card(self) -> None:
        """A picture opened before the model's card was known: its CLAHE layer with the card's settings and
        its model's copy, both from the decoded picture."""
        card, views, path, request = self.engine.card, self.views, self.current_path, self.session.load_request
        if card is None or views is None or path is None:
            return
        if views.clahe_settings != clahe_settings(card.preprocessing):
            start_worker(self.loads, as_generator(image_views, views.image, card.preprocessing), self,
                         returned=lambda rebuilt: self._on_views_rebuilt(request, rebuilt))
        if self.session.awaiting_copy and self.session.model_copy is None:
            start_worker(self.loads, as_generator(model_copy, path, card.input_size, views.image), self,
                         returned=lambda copy: self._on_model_copy(request, copy),
                         errored=lambda exc: request == self.session.load_request and self._fail_explanation(describe_error(exc)))

    def _on_views_rebuilt(self, request: int, views: ImageViews) -> None:
        if request == self.session.load_request and self.views is not None and views.image is self.views.image:
            self.view_controls.views = views
            self.view_controls.refresh()

    # --- prediction ----------------------------------------------------------------------------
    def _request_explanation(self) -> None:
        """Ask for the current file's result, with the model's copy once the loader has made it."""
        if self.current_path is None:
            return
        if self.engine.error is not None:
            self.session.awaiting_copy = False
            self._show_no_prediction(f"The model is not available: {self.engine.error}")
            self._update_busy()
            return
        self.panel.show_analysing(self.engine.ready)
        self.statusBar().showMessage(f"Analysing {self.current_path.name}\u2026"
                                     + (" (between scan batches)" if self.scan_panel.running else ""))
        if self.session.model_copy is not None:
            self.session.begin_explain(self.engine.explain(self.session.model_copy, self.view_model.state.explained_class))
        self._update_busy()

    def _on_view_change(self, state: ViewState, changed: frozenset[str]) -> None:
        """Another explained class for the image on screen: a new result from the copy already made."""
        if "explained_class" in changed and self.session.model_copy is not None and self.engine.error is None:
            self._request_explanation()

    def _on_explained(self, request: int, explanation: Explanation, heat: QImage) -> None:
        first = self.session.explanation is None  # not another explained class of the image on screen
        if not self.session.finish_explain(request, explanation):
            return  # a result for an image (or class) the user has left
        self.view_controls.heat = heat
        p = explanation.prediction
        self.panel.show_prediction(explanation)
        self.commands.gradcam.setEnabled(True)
        if first and needs_caution(p) and self.view_model.state.gradcam:
            self.view_model.hold_heat()  # not a finding: no coloured map unless the user asks for it (redrawn now)
            self.panel.note_heat_hidden()
        else:
            if self.view_model.state.heat_held:
                self.panel.note_heat_hidden()  # still held: the new panel says so again
            self.view_controls.refresh()
        number = "" if p.scope == NOT_XRAY else (
            f" \u00b7 probability of pneumonia {probability_text(p.probability)} (threshold {threshold_text(p.threshold)})"
            if p.in_domain else f" \u00b7 probability {probability_text(p.probability)}, not reliable")
        self.statusBar().showMessage(f"{self.current_path.name if self.current_path else ''}: {badge_of(p)[1]}{number}"
                                     + (f" \u00b7 {len(p.warnings)} warning(s)" if p.warnings else ""))
        self._update_busy()
        if self.views is not None:  # else once the picture is on screen too (`_on_image_loaded`)
            self.prediction_shown.emit(p)

    def _on_explain_failed(self, request: int, message: str) -> None:
        if self.session.finish_explain(request):
            self._fail_explanation(message)

    def _fail_explanation(self, message: str) -> None:
        self.session.awaiting_copy = False
        if self.session.loading:  # the picture's own load says first whether the file opens at all
            self._explain_error = message
            return
        self._show_explain_failure(message)

    def _show_explain_failure(self, message: str) -> None:
        self._explain_error = None
        self._show_no_prediction(message)
        self.statusBar().showMessage(f"No prediction: {message}")
        self._update_busy()
        self.error_shown.emit(message)

    def _show_no_prediction(self, message: str) -> None:
        self.panel.show_prediction_unavailable(message)
        self.commands.gradcam.setEnabled(False)

    # --- model ---------------------------------------------------------------------------------
    def _on_model_loaded(self, card: Any) -> None:
        self.status_bar.model_status.setText(f"Model {card.version} ready")
        self.panel.set_model_text(f"Model {card.version} \u00b7 threshold {threshold_text(card.threshold)}")
        if self.session.awaiting_copy or self.session.explain_request is not None:
            self.panel.show_analysing(True)
        self._follow_card()
        self._update_busy()

    def _on_model_failed(self, message: str) -> None:
        self.status_bar.model_status.setText("Model unavailable")
        self.panel.set_model_text(f"Model unavailable: {message}")
        self.statusBar().showMessage(f"The model could not be loaded: {message}")
        if self.session.awaiting_copy:
            self._fail_explanation(message)
        self._update_busy()
        self.error_shown.emit(message)

    def show_about(self) -> None:
        card = self.engine.card
        runs = str(self.model_path)
        if card is not None and card.onnx.get("file") and (self.model_path.parent / str(card.onnx["file"])).is_file():
            runs = str(self.model_path.parent / str(card.onnx["file"]))  # the file ONNX Runtime runs, not the .keras
        AboutDialog(card, self.engine.error, str(self.model_path), self, self.engine.site_description, runs).exec()

    def show_shortcuts(self) -> None:
        ShortcutsDialog(shortcut_rows([self]), self).exec()

    # --- site calibration ----------------------------------------------------------------------
    def choose_site(self) -> None:
        start = self.engine.site or self.last_folder
        name, _ = QFileDialog.getOpenFileName(self, "Choose a site calibration", start,
                                              "Site calibration (*.json);;All files (*)")
        if name:
            self.set_site(name)

    def set_site(self, path: str) -> None:
        """Reopen the model with the site calibration `path` ("" for none) on the engine thread."""
        self.statusBar().showMessage("Applying the site calibration\u2026" if path else "Clearing the site calibration\u2026")
        self.engine.set_site(path)

    def clear_site(self) -> None:
        self.set_site("")

    def _on_site_changed(self, path: str, description: str) -> None:
        if path:
            self.settings.setValue(SITE_KEY, path)
        else:
            self.settings.remove(SITE_KEY)
        self.panel.set_site(description)
        self.commands.clear_site.setEnabled(bool(path))
        self.statusBar().showMessage(f"Site calibration: {description}." if description
                                     else "No site calibration: the model card's calibration is in force.", 15000)
        self.session.explanation = None  # the panel's numbers are the old calibration's
        self._request_explanation()

    def _on_site_failed(self, path: str, message: str) -> None:
        if not self.engine.site and self.settings.value(SITE_KEY, "", type=str) == path:
            self.settings.remove(SITE_KEY)  # the remembered file is refused now: do not try it at every start
        self.statusBar().showMessage(f"Site calibration refused: {message}", 15000)
        self.show_site_problem(message)

    def show_site_problem(self, message: str) -> None:
        """Say why a site file was refused (tests replace this method)."""
        kept = (f"The site calibration in force is unchanged: {self.engine.site_description}." if self.engine.site
                else "The model card's calibration stays in force.")
        QMessageBox.warning(self, "Site calibration refused", f"{message}\n\n{kept}")

    def _on_scan_running(self, running: bool) -> None:
        """A scan keeps one screener to its end: the calibration cannot change under it."""
        self.commands.start_scan.setEnabled(not running)
        self.commands.cancel_scan.setEnabled(running)
        self.commands.site.setEnabled(not running)
        self.commands.clear_site.setEnabled(not running and bool(self.engine.site))

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
        """Write the view as shown, at full resolution, on the saving pool."""
        annotations = self.view_controls.annotations(for_export=True)
        composite = self.viewer.composite(annotations if annotations.lines() else None)
        if composite is None or self.current_path is None:
            return
        heat_shown, path = self.viewer.heat is not None, Path(path)
        description = describe_view(self.current_path, self.explanation, self.view_model.state.clahe,
                                    self.view_model.state.opacity if heat_shown else None, self.view_controls.levels.describe())
        self.settings.setValue("paths/last_export_folder", str(path.parent))
        self.statusBar().showMessage(f"Saving the view to {path}\u2026")
        start_worker(self.saves, as_generator(save_png, composite, path, description, f"PneumoScan {__version__}"), self,
                     returned=self._on_saved, errored=lambda exc: self._on_export_failed(save_failure(path, exc)))

    def _on_saved(self, path: Path) -> None:
        self.statusBar().showMessage(f"Saved the view to {path}", 15000)
        self.view_saved.emit(str(path))

    def _on_export_failed(self, message: str) -> None:
        self.statusBar().showMessage(message, 15000)
        self.error_shown.emit(message)

    def _update_busy(self) -> None:
        model_loading = not self.engine.ready and self.engine.error is None
        self.status_bar.busy_bar.setVisible(self.session.busy or self.scan_panel.running or model_loading)
        self.panel.busy.setVisible(self.session.busy)

    # --- drag and drop -------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        accept_drag(event)

    def dragMoveEvent(self, event) -> None:  # noqa: ANN001
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = take_drop(event)
        if paths:
            self.handle_dropped(paths)

    def handle_dropped(self, paths: list[Path]) -> None:
        """Dropped (or given on the command line): files are opened, a folder is offered for a scan."""
        files, folder = split_drop(paths)
        if files:
            self.open_paths(files)
        if folder is not None:
            self.offer_scan(folder)

    # --- shutdown ------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        self.model_start.cancel()
        if self._loading is not None and not self._loading.done:
            self._loading.quit()
        self.loads.shutdown()
        self.saves.shutdown()  # a PNG being written is finished, not cut off
        self.engine.shutdown()
