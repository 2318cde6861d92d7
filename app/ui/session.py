"""What the main window is showing, without Qt: the open list, the position in it, the request ids.

Like napari's `ViewerModel` beside its Qt view: the window asks this model what to do and draws the
answer, so the stepping and stale-result rules are tested without a display. A load or explain result
is used only if its id is the newest one asked for (the user may have moved on since).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Session:
    paths: list[Path] = field(default_factory=list)
    index: int = -1
    load_request: int = 0
    loading: bool = False
    explain_request: int | None = None
    image: Any = None  # LoadedImage on screen
    model_copy: Any = None  # the LoadedImage the model scores for it (the loader's, given to the engine)
    awaiting_copy: bool = False  # a result is wanted, and the model's copy is on its way
    explanation: Any = None  # its Explanation, once the engine has answered

    @property
    def current_path(self) -> Path | None:
        return self.paths[self.index] if 0 <= self.index < len(self.paths) else None

    def open(self, paths: list[Path], index: int = 0) -> bool:
        """Make `paths` the list, positioned at `index`; True if that file must be loaded (not on screen yet)."""
        index = max(0, min(index, len(paths) - 1))
        same = paths[index] == self.current_path and (self.image is not None or self.loading)
        self.paths, self.index = list(paths), index
        return not same

    def step(self, delta: int) -> bool:
        """Move within the list; False at either end."""
        target = self.index + delta
        if not 0 <= target < len(self.paths):
            return False
        self.index = target
        return True

    @property
    def can_go_back(self) -> bool:
        return self.index > 0

    @property
    def can_go_on(self) -> bool:
        return 0 <= self.index < len(self.paths) - 1

    def position(self) -> str:
        return f"image {self.index + 1} of {len(self.paths)}" if len(self.paths) > 1 else ""

    def details(self) -> str:
        """The image's size and format, and the position in the list: "1422 × 1152 px · JPEG · image 2 of 4"."""
        image, position = self.image, self.position()
        if image is None:
            return position
        details = f"{image.width} \u00d7 {image.height} px \u00b7 {image.source_format}"
        return f"{details} \u00b7 {position}" if position else details

    def begin_load(self, wants_result: bool = True) -> int:
        """A new file is being decoded: forget the last one's image, copy and result."""
        self.load_request += 1
        self.loading, self.awaiting_copy = True, wants_result
        self.explain_request, self.image, self.model_copy, self.explanation = None, None, None, None
        return self.load_request

    def take_copy(self, request: int, copy: Any) -> bool:
        """True if `copy` is the model's copy of the newest load (it is the session's now)."""
        if request != self.load_request:
            return False
        self.model_copy, self.awaiting_copy = copy, False
        return True

    def finish_load(self, request: int, image: Any) -> bool:
        """True if `request` is the newest load (its image is now the session's)."""
        if request != self.load_request:
            return False
        self.loading, self.image = False, image
        return True

    def fail_load(self, request: int) -> bool:
        """True if `request` is the newest load; a result still on its way for the file is dropped."""
        if request != self.load_request:
            return False
        self.loading, self.awaiting_copy = False, False
        self.image, self.model_copy, self.explain_request, self.explanation = None, None, None, None
        return True

    def begin_explain(self, request: int) -> None:
        self.explain_request = request

    def finish_explain(self, request: int, explanation: Any = None) -> bool:
        """True if `request` is the result the window waits for."""
        if request != self.explain_request:
            return False
        self.explain_request = None
        if explanation is not None:
            self.explanation = explanation
        return True

    @property
    def busy(self) -> bool:
        return self.loading or self.awaiting_copy or self.explain_request is not None
