"""Acquisition shifts: what differs between one X-ray machine's export and another's.

Each shift maps an 8-bit grayscale image to a changed copy at a `strength` in [0, 1] (0 = identity,
1 = the strong end of the range that still looks like an ordinary radiograph). The stress test runs
the fixed `SUITE` at two strengths; training augmentation draws random shifts and strengths from the
same functions, so what the model is trained against and what it is tested on are one definition.
Random parts (noise, rotation direction, crop offset) come from the `rng` passed in, which the stress
test seeds per image, shift and seed: the same call gives the same pixels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

Shift = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


def _lut(gray: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    return cv2.LUT(gray, np.clip(np.rint(mapping), 0, 255).astype(np.uint8))


_LEVELS = np.arange(256, dtype=np.float64)


def contrast(gray: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Flatter contrast around mid-grey (a softer exposure or export curve): factor 1 -> 0.5."""
    factor = 1.0 - 0.5 * strength
    return _lut(gray, 127.5 + (_LEVELS - 127.5) * factor)


def brightness(gray: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A lighter film: +0 to +60 grey levels."""
    return _lut(gray, _LEVELS + 60.0 * strength)


def gamma_up(gray: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Darker mid-tones: gamma 1 -> 1.6."""
    return _lut(gray, 255.0 * (_LEVELS / 255.0) ** (1.0 + 0.6 * strength))


def gamma_down(gray: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Lighter mid-tones: gamma 1 -> 0.6."""
    return _lut(gray, 255.0 * (_LEVELS / 255.0) ** (1.0 - 0.4 * strength))


def blur(gray: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Softer detector or heavier smoothing: Gaussian sigma 0 -> 2 pixels (at 224)."""
    sigma = 2.0 * strength * max(gray.shape) / 224.0
    return gray if sigma <= 0 else cv2.GaussianBlur(gray, (0, 0), sigma)


def sharpen(gray: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Edge enhancement as vendors apply it: unsharp mask, amount 0 -> 2."""
    if strength <= 0:
        return gray
    soft = cv2.GaussianBlur(gray, (0, 0), 1.5 * max(gray.shape) / 224.0)
    return cv2.addWeighted(gray, 1.0 + 2.0 * strength, soft, -2.0 * strength, 0.0)


def noise(gray: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Quantum noise of a lower dose: Gaussian, standard deviation 0 -> 12 grey levels."""
    if strength <= 0:
        return gray
    noisy = gray.astype(np.float32) + rng.normal(0.0, 12.0 * strength, gray.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def jpeg(gray: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Lossy re-export: JPEG quality 95 -> 20."""
    if strength <= 0:
        return gray
    quality = int(round(95 - 75 * strength))
    ok, encoded = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE) if ok else gray


def resample(gray: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Lost resolution: down to x1 -> x0.33 (area) and back up (bilinear)."""
    scale = 1.0 - 0.67 * strength
    height, width = gray.shape
    small = (max(1, int(round(width * scale))), max(1, int(round(height * scale))))
    if small == (width, height):
        return gray
    reduced = cv2.resize(gray, small, interpolation=cv2.INTER_AREA)
    return cv2.resize(reduced, (width, height), interpolation=cv2.INTER_LINEAR)


def _warp(gray: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    height, width = gray.shape
    return cv2.warpAffine(gray, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def rotate(gray: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A patient not quite straight: 0 -> 10 degrees, direction drawn from `rng`."""
    if strength <= 0:
        return gray
    angle = 10.0 * strength * (1.0 if rng.random() < 0.5 else -1.0)
    height, width = gray.shape
    return _warp(gray, cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, 1.0))


def crop_zoom(gray: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Slightly tighter, off-centre collimation: keep 100 % -> 85 % of each side, offset drawn from `rng`
    (a small change, as between two technicians; a 25 % crop cuts off lung and is another question)."""
    keep = 1.0 - 0.15 * strength
    if keep >= 1.0:
        return gray
    height, width = gray.shape
    ch, cw = height * keep, width * keep
    top, left = rng.uniform(0, height - ch), rng.uniform(0, width - cw)
    matrix = np.array([[1 / keep, 0, -left / keep], [0, 1 / keep, -top / keep]], dtype=np.float64)
    return _warp(gray, matrix)


def window(gray: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Another windowing: the darkest and brightest 0 -> 5 % of pixels clipped, the rest stretched."""
    if strength <= 0:
        return gray
    low, high = np.percentile(gray, [5.0 * strength, 100.0 - 5.0 * strength])
    if high <= low:
        return gray
    return _lut(gray, (_LEVELS - low) * 255.0 / (high - low))


def combined(gray: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Gamma, lost resolution and JPEG at once. Strength 0.5 is the mild export change that already
    hurt 1.0.0 (gamma 1.3, half resolution, JPEG quality ~40); strength 1 is gamma 1.6, x0.33, quality 20."""
    if strength <= 0:
        return gray
    out = gamma_up(gray, strength, rng)
    out = resample(out, min(1.0, 1.5 * strength), rng)
    return jpeg(out, min(1.0, 1.5 * strength), rng)


SUITE: dict[str, Shift] = {
    "contrast": contrast,
    "brightness": brightness,
    "gamma_up": gamma_up,
    "gamma_down": gamma_down,
    "blur": blur,
    "sharpen": sharpen,
    "noise": noise,
    "jpeg": jpeg,
    "resample": resample,
    "rotate": rotate,
    "crop_zoom": crop_zoom,
    "window": window,
    "combined": combined,
}
STRENGTHS = (0.5, 1.0)  # the stress test's "mild" and "strong"


@dataclass(frozen=True)
class Condition:
    """One column of the stress test: a shift at a strength (`clean` is the identity)."""

    shift: str
    strength: float

    @property
    def name(self) -> str:
        return "clean" if self.shift == "clean" else f"{self.shift}@{self.strength:g}"


def stress_conditions() -> list[Condition]:
    """Clean first, then every shift of the suite at each strength: the fixed stress-test order."""
    return [Condition("clean", 0.0)] + [Condition(s, k) for s in SUITE for k in STRENGTHS]


def seeded_rng(key: str, condition: str, seed: int) -> np.random.Generator:
    """A generator fixed by the image, the condition and the seed (not by the order of calls)."""
    digest = hashlib.sha256(f"{seed}|{condition}|{key}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def apply(gray: np.ndarray, condition: Condition, key: str, seed: int = 0) -> np.ndarray:
    """`gray` under `condition`, deterministic for (key, condition, seed); `key` names the image."""
    if condition.shift == "clean" or condition.strength <= 0:
        return gray
    return SUITE[condition.shift](gray, condition.strength, seeded_rng(key, condition.name, seed))
