"""The view's composition: the image's ready layers as the `ViewModel` asks, and the toggles kept in the settings.

They change what the viewer shows, never the prediction: the image's ready layers (`views`) and the
explanation's heat map (`heat`) are composed here (window/level is the one thing computed on the spot),
once per change of the view model, and each toggle is remembered in the settings under `view/`. The
controls that change the model (menus, toolbar, panel) are bound to it by `bind_check` and friends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtGui import QImage

from app.core.screening import NEGATIVE
from app.ui.annotations import Annotations, identity
from app.ui.imaging import ImageViews, gray_to_qimage
from app.ui.levels import PRESETS, Levels
from app.ui.session import Session
from app.ui.view_model import ViewModel, ViewState
from app.ui.viewer import ImageViewer

SETTINGS = {  # field -> key; `gradcam` keeps what was asked for, even while held off for one result
    "clahe": "view/clahe", "gradcam": "view/gradcam", "opacity": "view/opacity", "keep_levels": "view/keep_levels",
    "identity": "view/identity", "export_identity": "export/identity",
}
REDRAWN_BY = frozenset({"clahe", "gradcam", "keep_levels", "identity"})  # levels: coalesced; opacity: with a map


def gray_pixels(image: QImage) -> np.ndarray:
    """A Grayscale8 QImage's pixels as an (H, W) array (a copy, so the image may go)."""
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes()).reshape(height, stride)
    return data[:, :width].copy()


def bind_check(control: Any, model: ViewModel, name: str, on_toggled: Callable[[bool], None] | None = None) -> None:
    """A checkable action or check box as a view of the boolean field `name` (both ways)."""
    control.setChecked(bool(getattr(model.state, name)))
    control.toggled.connect(on_toggled or (lambda on: model.update(**{name: on})))
    model.watch(name, lambda state: control.setChecked(bool(getattr(state, name))))


class ViewControls(QObject):
    """Shows the layers of the image on screen in `viewer` as the view model's state asks."""

    updated = Signal()  # the displayed pixels were recomposed

    def __init__(self, model: ViewModel, session: Session, viewer: ImageViewer, settings: QSettings,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model, self.session, self.viewer, self.settings = model, session, viewer, settings
        self.views: ImageViews | None = None  # the image's plain and CLAHE layers
        self.heat: QImage | None = None  # the explanation's coloured heat map layer
        self._levelled: tuple[tuple[int, Levels], QImage] | None = None  # (layer key, levels) -> shown layer
        self._levels_pending = False
        model.observe(self._on_change)

    @property
    def levels(self) -> Levels:
        return self.model.state.levels

    # --- settings ------------------------------------------------------------------------------
    def restore(self) -> None:
        """The toggles as the settings left them."""
        s = self.settings
        self.model.update(opacity=s.value("view/opacity", 0.4, type=float), clahe=s.value("view/clahe", False, type=bool),
                          gradcam=s.value("view/gradcam", True, type=bool), heat_held=False,
                          keep_levels=s.value("view/keep_levels", False, type=bool),
                          identity=s.value("view/identity", True, type=bool),
                          export_identity=s.value("export/identity", False, type=bool))

    def save(self) -> None:
        for name in SETTINGS:
            self._store(self.model.state, name)

    def _store(self, state: ViewState, name: str) -> None:
        self.settings.setValue(SETTINGS[name], state.wants_heat if name == "gradcam" else getattr(state, name))

    def _on_change(self, state: ViewState, changed: frozenset[str]) -> None:
        for name in changed & SETTINGS.keys():
            self._store(state, name)
        if changed & REDRAWN_BY or ("opacity" in changed and state.gradcam and self.heat is not None):
            self.refresh()
        elif "levels" in changed and not self._levels_pending:  # drag events: one recomposition per loop turn
            self._levels_pending = True
            QTimer.singleShot(0, self._apply_levels)

    # --- window/level --------------------------------------------------------------------------
    def drag_levels(self, dx: int, dy: int) -> None:
        self.model.update(levels=self.levels.dragged(dx, dy))

    def set_levels(self, levels: Levels) -> None:
        self.model.update(levels=levels)

    def apply_preset(self, name: str) -> None:
        width, level = PRESETS[name]
        self.set_levels(Levels(width, level, self.levels.invert))

    def reset_levels(self) -> None:
        self.set_levels(Levels())

    def _apply_levels(self) -> None:
        self._levels_pending = False
        self.refresh()

    def levels_readout(self) -> str:
        """"W 256 · L 128" (and "inverted", and "kept" when carried over from image to image)."""
        parts = [f"W {self.levels.window:.0f} \u00b7 L {self.levels.level:.0f}"]
        if self.levels.invert:
            parts.append("inverted")
        if self.model.state.keep_levels:
            parts.append("kept for every image")
        return " \u00b7 ".join(parts)

    # --- composition ---------------------------------------------------------------------------
    def annotations(self, for_export: bool = False) -> Annotations:
        """What the view's corners say; an export carries only the identity, and only when the user asks for it."""
        state, image, path = self.model.state, self.session.image, self.session.current_path
        shown = state.export_identity if for_export else state.identity
        who = identity(image, path) if shown and image is not None and path else Annotations()
        if for_export:  # the pixels as shown; what the heat map explains is in the PNG's Description
            return who
        explanation = self.session.explanation
        normal = explanation is not None and explanation.explained_class == NEGATIVE
        caption = ""
        if self.viewer.heat is not None and explanation is not None:
            caption = ("Heat map: evidence for NORMAL (green) \u2014 not a finding" if normal
                       else "Heat map: evidence for PNEUMONIA")
        return Annotations(who.top_left, who.top_right, who.bottom_left, (self.levels_readout(),), caption,
                           caption_green=normal)

    def _shown_layer(self, views: ImageViews) -> tuple[QImage, bool]:
        """The grey layer to show and whether it was made for this moment (window/level applied)."""
        layer = views.clahe if self.model.state.clahe else views.plain
        if self.levels.identity:
            return layer, False
        key = (layer.cacheKey(), self.levels)
        if self._levelled is None or self._levelled[0] != key:
            self._levelled = (key, gray_to_qimage(self.levels.apply(gray_pixels(layer))))
        return self._levelled[1], True

    def refresh(self, reset: bool = False) -> None:
        """Show the ready layers that the view model asks for; only window/level is computed here."""
        if self.views is None:
            return
        state = self.model.state
        layer, transient = self._shown_layer(self.views)
        self.viewer.set_image(layer, reset_view=reset, transient=transient)
        self.viewer.set_overlay(self.heat if state.gradcam else None, state.opacity)
        self.viewer.set_annotations(self.annotations())
        self.updated.emit()


def bind_panel(panel: Any, model: ViewModel) -> None:
    """The result panel's Grad-CAM controls and view line as views of the view model (`panel`: a PredictionPanel)."""
    bind_check(panel.gradcam_check, model, "gradcam", model.set_gradcam)
    panel.set_opacity(model.state.opacity)
    panel.opacity_changed.connect(model.set_opacity)
    panel.explained_class_changed.connect(lambda name: model.update(explained_class=name))
    panel.set_view_clahe(model.state.clahe)
    model.watch("opacity", lambda state: panel.set_opacity(state.opacity))
    model.watch("explained_class", lambda state: panel.set_explained_class(state.explained_class))
    model.watch("clahe", lambda state: panel.set_view_clahe(state.clahe))
