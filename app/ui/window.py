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
from PySide6.QtGui import QCloseEvent, QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QMessageBox, QWidget

from app.core.io.images import IMAGE_SUFFIXES, LoadedImage
from app.core.numbers import threshold_text
from app.core.resources import default_model_path
from app.core.screening import Explanation
from app.ui.about import AboutDialog, model_file_run
from app.ui.actions import WindowCommands
from app.ui.docks import add_result_dock, add_scan_dock, restore_geometry, save_geometry
from app.ui.drops import DropTarget, split_drop
from app.ui.engine import Engine
from app.ui.export import ViewExport, describe_view
from app.ui.imaging import ImageViews
from app.ui.loading import FileOpener
from app.ui.model_start import ModelStart
from app.ui.panel import PredictionPanel, needs_caution, status_line
from app.ui.recent import RecentFilesMenu
from app.ui.scan_panel import ScanPanel
from app.ui.session import Session
from app.ui.site_control import SiteControl
from app.ui.shortcuts import ShortcutsDialog, shortcut_rows
from app.ui.status_bar import WindowStatusBar
from app.ui.view_controls import ViewControls, bind_panel
from app.ui.view_model import ViewModel, ViewState
from app.ui.viewer import ImageViewer

ORGANISATION = APPLICATION = "PneumoScan"
FILE_FILTER = ("X-ray images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)")


def default_settings() -> QSettings:
    return QSettings(ORGANISATION, APPLICATION)


class MainWindow(DropTarget, QMainWindow):
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
        self.opener = FileOpener(self)  # decoding, off the GUI thread
        self._explain_error: str | None = None  # an engine failure that waits for the image's own load result
        self._shut_down = False
        self._build()
        self._connect()
        restore_geometry(self, self.settings)
        self.view_controls.restore()
        self._update_navigation()
        for label in (self.panel.model_label, self.status_bar.model_status):
            label.setText("Loading model\u2026")
        self._update_busy()
        self.engine.load(screener if screener is not None else self.model_path, defer=True,
                         site=self.site_control.remembered)
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
    def views(self) -> ImageViews | None:  # the image's plain and CLAHE layers
        return self.view_controls.views

    @property
    def heat(self) -> QImage | None:  # the explanation's coloured heat map layer
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
        self.exporter = ViewExport(self, self.settings, self.status_bar)
        self.site_control = SiteControl(self, self.engine, self.settings, self.panel,
                                        (self.commands.site, self.commands.clear_site), self.status_bar,
                                        self._request_fresh_result, lambda message: self.show_site_problem(message))

    def _connect(self) -> None:
        self.recent_menu.open_requested.connect(lambda path: self.open_paths([path]))
        self.opener.copy_made.connect(self._on_model_copy)
        self.opener.views_made.connect(self._on_image_loaded)
        self.opener.views_rebuilt.connect(self._on_views_rebuilt)
        self.opener.failed.connect(self._on_image_failed)
        self.opener.copy_failed.connect(self._fail_explanation)
        self.engine.model_loaded.connect(self._on_model_loaded)
        self.engine.model_failed.connect(self._on_model_failed)
        self.engine.explained.connect(self._on_explained)
        self.engine.explain_failed.connect(self._on_explain_failed)
        self.exporter.saved.connect(self.view_saved)
        self.exporter.failed.connect(self.error_shown)
        self.view_model.observe(self._on_view_change)
        self.view_controls.updated.connect(lambda: self.commands.export.setEnabled(True))
        self.view_controls.updated.connect(self.view_updated)
        self.viewer.zoom_changed.connect(self.status_bar.show_zoom)
        self.viewer.levels_dragged.connect(self.view_controls.drag_levels)
        self.scan_panel.open_requested.connect(self.open_paths)
        self.scan_panel.running_changed.connect(self._on_scan_running)
        self.scan_panel.status_message.connect(lambda m: self.statusBar().showMessage(m, 15000))

    # --- settings ------------------------------------------------------------------------------
    def save_settings(self) -> None:
        save_geometry(self, self.settings)
        self.view_controls.save()
        self.settings.sync()

    @property
    def last_folder(self) -> str:
        return self.settings.value("paths/last_folder", "", type=str)

    def open_initial(self, path: Path | str | None = None) -> None:
        """At start-up: the file from the command line, else the last file if it still exists."""
        if path:
            self.handle_dropped([Path(path)])  # a folder is offered for a scan, a file is opened
        elif (last := self.settings.value("paths/last_file", "", type=str)) and Path(last).is_file():
            self.open_paths([Path(last)])

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
        self.scan_panel.offer(Path(folder))
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
            self.panel.image_info.setText(self.session.details())

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
        self.opener.open(request, path, self.engine.card)  # the model's copy first, then the view layers
        self._request_explanation()  # says what is coming; the model's copy asks for the result when it arrives
        self._update_busy()

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
        """A picture opened before the model's card was known: the card's CLAHE layer and the model's copy."""
        card, views, path = self.engine.card, self.views, self.current_path
        if card is not None and views is not None and path is not None:
            self.opener.follow_card(self.session.load_request, path, card, views,
                                    self.session.awaiting_copy and self.session.model_copy is None)

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

    def _request_fresh_result(self) -> None:
        """Another calibration: the panel's numbers are the old one's."""
        self.session.explanation = None
        self._request_explanation()

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
        self.statusBar().showMessage(status_line(self.current_path.name if self.current_path else "", p))
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
        AboutDialog(self.engine.card, self.engine.error, str(self.model_path), self, self.engine.site_description,
                    str(model_file_run(self.model_path, self.engine.card))).exec()

    def show_shortcuts(self) -> None:
        ShortcutsDialog(shortcut_rows([self]), self).exec()

    # --- site calibration (`SiteControl`) -----------------------------------------------------------
    def choose_site(self) -> None:
        self.site_control.choose(self.last_folder)

    def set_site(self, path: str) -> None:
        self.site_control.set(path)

    def clear_site(self) -> None:
        self.site_control.set("")

    def show_site_problem(self, message: str) -> None:
        """Say why a site file was refused (tests replace this method)."""
        QMessageBox.warning(self, "Site calibration refused", f"{message}\n\n{self.site_control.kept_sentence()}")

    def _on_scan_running(self, running: bool) -> None:
        self._update_busy()
        self.commands.start_scan.setEnabled(not running)
        self.commands.cancel_scan.setEnabled(running)
        self.site_control.scan_running(running)

    # --- export (`ViewExport`) ---------------------------------------------------------------------
    def choose_export_path(self) -> None:
        if self.views is not None and self.current_path is not None:
            path = self.exporter.ask_path(self.current_path, self.viewer.heat is not None)
            if path is not None:
                self.export_view(path)

    def export_view(self, path: Path) -> None:
        """Write the view as shown, at full resolution, off the GUI thread."""
        annotations = self.view_controls.annotations(for_export=True)
        composite = self.viewer.composite(annotations if annotations.lines() else None)
        if composite is None or self.current_path is None:
            return
        state, heat_shown = self.view_model.state, self.viewer.heat is not None
        self.exporter.save(composite, Path(path), describe_view(self.current_path, self.explanation, state.clahe,
                                                                state.opacity if heat_shown else None,
                                                                self.view_controls.levels.describe()))

    def _update_busy(self) -> None:
        model_loading = not self.engine.ready and self.engine.error is None
        self.status_bar.busy_bar.setVisible(self.session.busy or self.scan_panel.running or model_loading)
        self.panel.busy.setVisible(self.session.busy)

    # --- drops (`DropTarget`) --------------------------------------------------------------------
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
        self.opener.shutdown()
        self.exporter.shutdown()
        self.engine.shutdown()
