"""What the view shows, without Qt: the toggles' state, which menus, toolbar and panel observe.

Beside `Session` (what is open), like napari's `ViewerModel` beside its Qt view: a menu entry, a tool
button and a check box are views of one field here, not three states to keep in step; the viewer is
recomposed once per change, whoever made it. Window/level and invert belong to one image: a new image
opens at the full range, not inverted, unless `keep_levels`; the heat map explains PNEUMONIA for every
new image (NORMAL only for the image it was asked for). `heat_held`: Grad-CAM is wanted but kept off
for a result that needs caution, until the user ticks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace

from app.core.screening import POSITIVE
from app.ui.levels import Levels


@dataclass(frozen=True)
class ViewState:
    clahe: bool = False
    gradcam: bool = True
    heat_held: bool = False
    opacity: float = 0.4
    explained_class: str = POSITIVE
    levels: Levels = Levels()
    keep_levels: bool = False
    identity: bool = True  # the DICOM identity in the view's corners
    export_identity: bool = False  # ... and in exported PNGs

    @property
    def wants_heat(self) -> bool:
        """Grad-CAM asked for (ticked, or ticked and held off for this result): what the settings keep."""
        return self.gradcam or self.heat_held


Listener = Callable[[ViewState, frozenset[str]], None]  # the new state and the names of the fields that changed


class ViewModel:
    """One `ViewState` and its listeners; `update` notifies them once per change, never for no change."""

    def __init__(self, state: ViewState | None = None) -> None:
        self.state = state or ViewState()
        self._listeners: list[Listener] = []

    def observe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def watch(self, name: str, show: Callable[[ViewState], object]) -> None:
        """Call `show(state)` whenever the field `name` changes."""
        self.observe(lambda state, changed: show(state) if name in changed else None)

    def update(self, **changes: object) -> frozenset[str]:
        """Change some fields; returns the names that really changed (the listeners heard of them)."""
        new = replace(self.state, **changes)  # type: ignore[arg-type]
        changed = frozenset(f.name for f in fields(ViewState) if getattr(new, f.name) != getattr(self.state, f.name))
        if changed:
            self.state = new
            for listener in list(self._listeners):
                listener(new, changed)
        return changed

    # --- the rules of the toggles --------------------------------------------------------------
    def set_gradcam(self, shown: bool) -> None:
        """Ticked by the user: shown, whatever the result (a held map is released)."""
        self.update(gradcam=shown, heat_held=False if shown else self.state.heat_held)

    def hold_heat(self) -> None:
        """A result that needs caution: no coloured map unless the user asks for it."""
        self.update(gradcam=False, heat_held=True)

    def release_held_heat(self) -> None:
        """A new image: the map held off for the last one is shown again, as the user had it."""
        if self.state.heat_held:
            self.update(gradcam=True, heat_held=False)

    def set_opacity(self, value: float) -> None:
        self.update(opacity=round(min(1.0, max(0.0, value)), 2))

    def set_invert(self, inverted: bool) -> None:
        levels = self.state.levels
        self.update(levels=Levels(levels.window, levels.level, inverted))

    def new_image(self) -> None:
        """A new file: its own window/level (unless kept) and the default explanation, PNEUMONIA."""
        self.update(levels=self.state.levels if self.state.keep_levels else Levels(), explained_class=POSITIVE)
