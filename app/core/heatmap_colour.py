"""The one colouring of Grad-CAM evidence, shared by the GUI, File > Export and `pneumoscan-cli heatmap`.

A colour must mean the same amount of evidence on every image, or a normal film's faint evidence is
painted as red as a consolidation. So the evidence (logit units) is divided by a fixed reference, the
model card's `gradcam_reference` (the 99th percentile of the validation split's Grad-CAM maxima):
at and above it the top colour. Older cards have no reference; the scale is then the image's own
maximum, and `scale_description` says so. The low end is fully transparent (alpha rises with the
evidence), so an image with little evidence keeps its grey values instead of being darkened.
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from app.core.gradcam import COLORMAP

FULL_ALPHA_AT = 0.5  # evidence / reference at which the colour is fully opaque (before the opacity)
_ALPHA = np.rint(np.clip(np.arange(256) / 255.0 / FULL_ALPHA_AT, 0.0, 1.0) * 255).astype(np.uint8)


class Explained(Protocol):
    heatmap: np.ndarray  # per-image normalised map at the image's size (used when `evidence` is absent)
    evidence: np.ndarray | None
    reference: float | None


def evidence_index(explanation: Explained, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8: the evidence as a fraction of the scale (reference, else image maximum), 0-255."""
    evidence = explanation.evidence
    if evidence is None:  # an explanation without raw evidence: its map is already per-image normalised
        evidence, scale = np.asarray(explanation.heatmap, np.float32), 1.0
    else:
        evidence = np.asarray(evidence, np.float32)
        scale = explanation.reference or (float(evidence.max()) if evidence.size else 0.0)
    if evidence.shape != tuple(shape):
        evidence = cv2.resize(evidence, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    # scaled, rounded and saturated to 0-255 in one pass (evidence is >= 0)
    return cv2.convertScaleAbs(evidence, alpha=255.0 / scale if scale > 0 else 0.0)


def colour_index(index: np.ndarray) -> np.ndarray:
    """Levels 0-255 -> RGBA uint8: the legend's colours, transparent at 0, opaque from `FULL_ALPHA_AT`."""
    blue, green, red = cv2.split(cv2.applyColorMap(index, COLORMAP))
    return cv2.merge([red, green, blue, cv2.LUT(index, _ALPHA)])  # OpenCV tables: 5 MP in about 20 ms


def heat_rgba(explanation: Explained, shape: tuple[int, int]) -> np.ndarray:
    """The explanation's heat map at `shape` (the image's full size), RGBA uint8."""
    return colour_index(evidence_index(explanation, shape))


def blend(gray: np.ndarray, rgba: np.ndarray, opacity: float) -> np.ndarray:
    """Draw `rgba` over the grayscale image at `opacity` (what Qt's painter does); returns RGB uint8."""
    weight = rgba[..., 3:4].astype(np.float32) * (float(np.clip(opacity, 0.0, 1.0)) / 255.0)
    base = gray.astype(np.float32)[..., None]
    return np.rint(base + (rgba[..., :3].astype(np.float32) - base) * weight).astype(np.uint8)


def overlay(gray: np.ndarray, explanation: Explained, opacity: float = 0.4) -> np.ndarray:
    """The exported picture: the explanation's heat map over `gray` at `opacity`, RGB uint8."""
    return blend(gray, heat_rgba(explanation, gray.shape[:2]), opacity)


def scale_description(reference: float | None) -> str:
    """One line for the legend: what the top colour means."""
    if reference:
        return "Red = evidence as strong as the model's reference (top 1 % of validation images); clear = none."
    return "No reference scale in this model: red = this image's own maximum."
