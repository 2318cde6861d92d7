"""Window/level and invert for the view: a 256-entry table applied to the shown 8-bit layer.

Qt-free (NumPy and OpenCV), so it is tested without a window. Right-drag in the viewer changes the
window (horizontal) and the level (vertical), as in radiology viewers; the presets are starting points
for 8-bit films. The model never sees any of this.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

DRAG_GAIN = 1.0  # grey values per screen pixel of right-drag


@dataclass(frozen=True)
class Levels:
    """Grey values `level - window/2` .. `level + window/2` are stretched to black .. white."""

    window: float = 256.0
    level: float = 127.5
    invert: bool = False

    @property
    def identity(self) -> bool:
        return self == Levels()

    def dragged(self, dx: float, dy: float) -> Levels:
        """Right-drag by (dx, dy) pixels: right widens the window, down raises the level (darker image)."""
        return replace(self, window=float(np.clip(self.window + dx * DRAG_GAIN, 1.0, 512.0)),
                       level=float(np.clip(self.level + dy * DRAG_GAIN, 0.0, 255.0)))

    def table(self) -> np.ndarray:
        values = (np.arange(256, dtype=np.float32) - (self.level - self.window / 2)) * (255.0 / self.window)
        table = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return 255 - table if self.invert else table

    def apply(self, gray: np.ndarray) -> np.ndarray:
        """The shown pixels (about 3 ms for 5 megapixels); the identity returns `gray` itself."""
        return gray if self.identity else cv2.LUT(gray, self.table())

    def describe(self) -> str:
        parts = [] if (self.window, self.level) == (Levels.window, Levels.level) else [
            f"window {self.window:.0f} / level {self.level:.0f}"]
        return ", ".join(parts + (["inverted"] if self.invert else []))


PRESETS = {  # name -> (window, level) on 0-255 grey values
    "Full Range": (256.0, 127.5),
    "Lungs (dark values)": (160.0, 80.0),
    "Mediastinum and Bone (bright values)": (140.0, 180.0),
    "High Contrast": (128.0, 128.0),
}
