"""File > Site Calibration: which calibration the model runs with, remembered across sessions.

A site calibration (`pneumoscan-cli calibrate`) reopens the model on the engine thread; a refused file
(edited, foreign, unreadable) changes nothing and is said, and a remembered file refused at start-up is
forgotten, so it is not tried at every start. A running scan keeps one screener to its end.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QStatusBar, QWidget

from app.ui.engine import Engine
from app.ui.panel import PredictionPanel

SITE_KEY = "model/site"  # the site calibration file in force, remembered across sessions


class SiteControl(QObject):
    def __init__(self, window: QWidget, engine: Engine, settings: QSettings, panel: PredictionPanel,
                 actions: tuple[QAction, QAction], status: QStatusBar, changed: Callable[[], None],
                 refused: Callable[[str], None]) -> None:
        """`actions`: (choose, clear); `changed`: the new calibration is in force; `refused`: say why a file was refused."""
        super().__init__(window)
        self.window, self.engine, self.settings, self.panel, self.status = window, engine, settings, panel, status
        self.choose_action, self.clear_action = actions
        self.changed, self.refused = changed, refused
        engine.site_changed.connect(self._on_changed)
        engine.site_failed.connect(self._on_failed)

    @property
    def remembered(self) -> str:
        return self.settings.value(SITE_KEY, "", type=str)

    def choose(self, start_folder: str) -> None:
        name, _ = QFileDialog.getOpenFileName(self.window, "Choose a site calibration", self.engine.site or start_folder,
                                              "Site calibration (*.json);;All files (*)")
        if name:
            self.set(name)

    def set(self, path: str) -> None:
        """Reopen the model with the site calibration `path` ("" for none) on the engine thread."""
        self.status.showMessage("Applying the site calibration\u2026" if path else "Clearing the site calibration\u2026")
        self.engine.set_site(path)

    def _on_changed(self, path: str, description: str) -> None:
        if path:
            self.settings.setValue(SITE_KEY, path)
        else:
            self.settings.remove(SITE_KEY)
        self.panel.set_site(description)
        self.clear_action.setEnabled(bool(path))
        self.status.showMessage(f"Site calibration: {description}." if description
                                else "No site calibration: the model card's calibration is in force.", 15000)
        self.changed()

    def _on_failed(self, path: str, message: str) -> None:
        if not self.engine.site and self.remembered == path:
            self.settings.remove(SITE_KEY)  # the remembered file is refused now: do not try it at every start
        self.status.showMessage(f"Site calibration refused: {message}", 15000)
        self.refused(message)

    def kept_sentence(self) -> str:
        return (f"The site calibration in force is unchanged: {self.engine.site_description}." if self.engine.site
                else "The model card's calibration stays in force.")

    def scan_running(self, running: bool) -> None:
        """A scan keeps one screener to its end: the calibration cannot change under it."""
        self.choose_action.setEnabled(not running)
        self.clear_action.setEnabled(not running and bool(self.engine.site))
