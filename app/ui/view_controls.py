"""The view toggles of the main window: CLAHE, window/level, the Grad-CAM heat map and its opacity,
and the text in the view's corners (identity, window/level readout, the heat map's caption).

They change what the viewer shows, never the prediction: the image's ready layers and the explanation's
heat map are composed here (window/level is the one thing computed on the spot), and each toggle is
remembered in the settings under `view/`. The actions that drive them are built by `WindowCommands`.
Window/level and invert belong to one image: each new image opens at the full range, not inverted,
unless "Keep Window/Level" is on, and then the readout on the view says they were kept. The heat map
explains PNEUMONIA for every new image; NORMAL is shown only for the image it was asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QImage

from app.core.screening import NEGATIVE, POSITIVE
from app.ui.annotations import Annotations, identity
from app.ui.imaging import gray_to_qimage
from app.ui.levels import PRESETS, Levels

if TYPE_CHECKING:
    from app.ui.window import MainWindow


def gray_pixels(image: QImage) -> np.ndarray:
    """A Grayscale8 QImage's pixels as an (H, W) array (a copy, so the image may go)."""
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes()).reshape(height, stride)
    return data[:, :width].copy()


class ViewControls(QObject):
    """The toggles' state and slots; `refresh` shows the window's layers (`views`, `heat`) as they ask."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.levels = Levels()
        self._levelled: tuple[tuple[int, Levels], QImage] | None = None  # (layer key, levels) -> shown layer
        self._levels_pending = False
        self.heat_held = False  # Grad-CAM is ticked but kept off for a result that needs caution

    def restore(self) -> None:
        """The toggles as the settings left them (each toggle's slot stores it again)."""
        w, s = self.window, self.window.settings
        w.panel.set_opacity(s.value("view/opacity", 0.4, type=float))
        w.commands.show_explained_class(w.panel.explained_class)
        w.commands.clahe.setChecked(s.value("view/clahe", False, type=bool))
        w.commands.gradcam.setChecked(s.value("view/gradcam", True, type=bool))
        w.commands.keep_levels.setChecked(s.value("view/keep_levels", False, type=bool))
        w.commands.identity.setChecked(s.value("view/identity", True, type=bool))
        w.commands.export_identity.setChecked(s.value("export/identity", False, type=bool))
        w.panel.set_view_clahe(w.commands.clahe.isChecked())

    def save(self) -> None:
        w, s = self.window, self.window.settings
        s.setValue("view/clahe", w.commands.clahe.isChecked())
        s.setValue("view/gradcam", w.commands.gradcam.isChecked() or self.heat_held)
        s.setValue("view/opacity", w.panel.opacity)
        s.setValue("view/keep_levels", w.commands.keep_levels.isChecked())
        s.setValue("view/identity", w.commands.identity.isChecked())
        s.setValue("export/identity", w.commands.export_identity.isChecked())

    def new_image(self) -> None:
        """A new file: its own window/level (unless kept) and the default explanation, PNEUMONIA."""
        w = self.window
        if not w.commands.keep_levels.isChecked() and not self.levels.identity:
            self.levels = Levels()
            w.commands.invert.setChecked(False)  # set_invert: the levels are the identity already
        if w.panel.explained_class != POSITIVE:
            w.panel.class_combo.blockSignals(True)  # the request for the new image follows anyway
            w.panel.set_explained_class(POSITIVE)
            w.panel.class_combo.blockSignals(False)
            w.commands.show_explained_class(POSITIVE)

    def set_keep_levels(self, keep: bool) -> None:
        self.window.settings.setValue("view/keep_levels", keep)
        self.refresh()

    def set_identity(self, shown: bool) -> None:
        self.window.settings.setValue("view/identity", shown)
        self.refresh()

    def levels_readout(self) -> str:
        """"W 256 · L 128" (and "inverted", and "kept" when carried over from image to image)."""
        parts = [f"W {self.levels.window:.0f} \u00b7 L {self.levels.level:.0f}"]
        if self.levels.invert:
            parts.append("inverted")
        if self.window.commands.keep_levels.isChecked():
            parts.append("kept for every image")
        return " \u00b7 ".join(parts)

    def annotations(self, for_export: bool = False) -> Annotations:
        """What the view's corners say; an export carries only the identity, and only when the user asks for it."""
        w = self.window
        shown = w.commands.export_identity.isChecked() if for_export else w.commands.identity.isChecked()
        who = identity(w.image, w.current_path) if shown and w.image is not None and w.current_path else Annotations()
        caption = ""
        explanation = w.explanation
        if w.viewer.heat is not None and explanation is not None:
            caption = ("Heat map: evidence for NORMAL (green) \u2014 not a finding" if explanation.explained_class == NEGATIVE
                       else "Heat map: evidence for PNEUMONIA")
        if for_export:  # the pixels as shown; what the heat map explains is in the PNG's Description
            return who
        return Annotations(who.top_left, who.top_right, who.bottom_left, (self.levels_readout(),), caption,
                           caption_green=explanation is not None and explanation.explained_class == NEGATIVE)

    def set_clahe(self, enabled: bool) -> None:
        self.window.settings.setValue("view/clahe", enabled)
        self.window.panel.set_view_clahe(enabled)
        self.refresh()

    def set_gradcam(self, enabled: bool) -> None:
        if enabled:
            self.heat_held = False  # asked for: shown, whatever the result
        self.window.settings.setValue("view/gradcam", enabled or self.heat_held)
        self.refresh()

    def hold_heat(self) -> None:
        self.heat_held = True
        self.window.commands.gradcam.setChecked(False)
        self.heat_held = True  # set_gradcam(False) ran in between
        self.window.panel.note_heat_hidden()

    def restore_held_heat(self) -> None:
        if self.heat_held:
            self.heat_held = False
            self.window.commands.gradcam.setChecked(True)

    def step_opacity(self, step: float) -> None:
        self.window.panel.set_opacity(self.window.panel.opacity + step)

    def on_opacity(self, value: float) -> None:
        self.window.settings.setValue("view/opacity", value)
        if self.window.commands.gradcam.isChecked() and self.window.heat is not None:
            self.refresh()

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
        if self.window.commands.invert.isChecked() != levels.invert:
            self.window.commands.invert.setChecked(levels.invert)  # calls set_invert, which changes nothing more
        if not self._levels_pending:
            self._levels_pending = True
            QTimer.singleShot(0, self._apply_levels)

    def _apply_levels(self) -> None:
        self._levels_pending = False
        self.refresh()

    def _shown_layer(self) -> tuple[QImage, bool]:
        """The grey layer to show and whether it was made for this moment (window/level applied)."""
        views = self.window.views
        assert views is not None
        layer = views.clahe if self.window.commands.clahe.isChecked() else views.plain
        if self.levels.identity:
            return layer, False
        key = (layer.cacheKey(), self.levels)
        if self._levelled is None or self._levelled[0] != key:
            self._levelled = (key, gray_to_qimage(self.levels.apply(gray_pixels(layer))))
        return self._levelled[1], True

    def refresh(self, reset: bool = False) -> None:
        """Show the ready layers that the toggles ask for; only window/level is computed here."""
        w = self.window
        if w.views is None:
            return
        layer, transient = self._shown_layer()
        w.viewer.set_image(layer, reset_view=reset, transient=transient)
        w.viewer.set_overlay(w.heat if w.commands.gradcam.isChecked() else None, w.panel.opacity)
        w.viewer.set_annotations(self.annotations())
        w.commands.export.setEnabled(True)
        w.view_updated.emit()
