"""The one colouring of Grad-CAM evidence, shared by the GUI, File > Export and `pneumoscan-cli heatmap`.

A colour must mean the same amount of evidence on every image, or a normal film's faint evidence is
painted as red as a consolidation. So the evidence (logit units) is divided by a fixed reference, the
model card's `gradcam_reference` (the 99th percentile of the validation split's Grad-CAM maxima):
at and above it the top colour. Older cards have no reference; the scale is then the image's own
maximum, and `scale_description` says so. Nothing below the scale's floor (`FLOOR` of the reference)
is tinted and alpha rises from there, so a film with little evidence keeps its grey values instead of
wearing a faint tint over the whole chest that reads as a finding.

Evidence for PNEUMONIA (the default explanation) is drawn in the turbo scale (blue to red); evidence for
NORMAL, shown only on request, in a single-hue green scale, so the two are never confused on screen.
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from app.core.explain.gradcam import COLORMAP

FLOOR = 0.1  # evidence / reference below which nothing is tinted
FULL_ALPHA_AT = 0.5  # evidence / reference at which the colour is fully opaque (before the opacity)
_LEVELS = np.arange(256) / 255.0
_ALPHA = np.rint(np.clip((_LEVELS - FLOOR) / (FULL_ALPHA_AT - FLOOR), 0.0, 1.0) * 255).astype(np.uint8)
NORMAL_CLASS = "NORMAL"
# dark to light green (BGR, as OpenCV's colour maps): nothing like the turbo scale's reds and yellows
_GREENS = np.stack([40 + 120 * _LEVELS, 90 + 165 * _LEVELS, 20 + 60 * _LEVELS], axis=1).astype(np.uint8).reshape(256, 1, 3)


class Explained(Protocol):
    heatmap: np.ndarray  # per-image normalised map at the image's size (used when `evidence` is absent)
    evidence: np.ndarray | None
    reference: float | None
    explained_class: str  # "PNEUMONIA" or "NORMAL": which colour scale


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


def colour_index(index: np.ndarray, explained_class: str = "PNEUMONIA") -> np.ndarray:
    """Levels 0-255 -> RGBA uint8: the legend's colours, clear below `FLOOR`, opaque from `FULL_ALPHA_AT`."""
    colours = cv2.applyColorMap(index, _GREENS if explained_class == NORMAL_CLASS else COLORMAP)
    blue, green, red = cv2.split(colours)
    return cv2.merge([red, green, blue, cv2.LUT(index, _ALPHA)])  # OpenCV tables: 5 MP in about 20 ms


def heat_rgba(explanation: Explained, shape: tuple[int, int]) -> np.ndarray:
    """The explanation's heat map at `shape` (the image's full size), RGBA uint8, in its class's scale."""
    return colour_index(evidence_index(explanation, shape), getattr(explanation, "explained_class", "PNEUMONIA"))


def blend(gray: np.ndarray, rgba: np.ndarray, opacity: float) -> np.ndarray:
    """Draw `rgba` over the grayscale image at `opacity` (what Qt's painter does); returns RGB uint8."""
    weight = rgba[..., 3:4].astype(np.float32) * (float(np.clip(opacity, 0.0, 1.0)) / 255.0)
    base = gray.astype(np.float32)[..., None]
    return np.rint(base + (rgba[..., :3].astype(np.float32) - base) * weight).astype(np.uint8)


def overlay(gray: np.ndarray, explanation: Explained, opacity: float = 0.4) -> np.ndarray:
    """The exported picture: the explanation's heat map over `gray` at `opacity`, RGB uint8."""
    return blend(gray, heat_rgba(explanation, gray.shape[:2]), opacity)


def scale_description(reference: float | None, explained_class: str = "PNEUMONIA") -> str:
    """One line for the legend: what the top colour means and what stays clear."""
    top = "Bright green" if explained_class == NORMAL_CLASS else "Red"
    if reference:
        return (f"{top} = evidence as strong as the model's reference (top 1 % of validation images); "
                f"clear = below {FLOOR:.0%} of it.")
    return f"No reference scale in this model: {top.lower()} = this image's own maximum."
