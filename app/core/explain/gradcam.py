"""Grad-CAM (Selvaraju et al., 2017): where in the image the evidence for a class lies.

The gradient step runs inside the compiled model call (`app.core.model.keras_classifier.cam_from_gradients`);
this module holds the NumPy/OpenCV side, so the GUI can draw the colour legend without TensorFlow.

Channel weights are the spatially averaged gradients of the logit (before the sigmoid; negated to
explain NORMAL) with respect to the last convolutional feature map; the map is their weighted sum,
passed through a ReLU and divided by its maximum. An all-zero map stays zero (nothing supports the
class) instead of dividing by zero.
"""

from __future__ import annotations

import cv2
import numpy as np

COLORMAP = cv2.COLORMAP_TURBO


def upsample(cam: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize the coarse map (7 x 7 for MobileNetV2) to the full image, bilinear, kept in [0, 1]."""
    resized = cv2.resize(cam.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip(resized, 0.0, 1.0)


def colormap_lut() -> np.ndarray:
    """The 256 RGB colours of the heat map scale, for the legend the viewer draws."""
    ramp = np.arange(256, dtype=np.uint8).reshape(256, 1)
    return cv2.applyColorMap(ramp, COLORMAP)[:, 0, ::-1].copy()


def colorize(heatmap: np.ndarray) -> np.ndarray:
    """Heat map values in [0, 1] -> RGB uint8 in the colours of `colormap_lut`."""
    return cv2.cvtColor(cv2.applyColorMap((heatmap * 255).astype(np.uint8), COLORMAP), cv2.COLOR_BGR2RGB)


def overlay(gray: np.ndarray, heatmap: np.ndarray, opacity: float = 0.4) -> np.ndarray:
    """Blend the heat map (values in [0, 1], same size as `gray`) over the image; returns RGB uint8."""
    if heatmap.shape != gray.shape:
        heatmap = upsample(heatmap, gray.shape)
    base_rgb = cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    opacity = float(np.clip(opacity, 0.0, 1.0))
    return cv2.addWeighted(base_rgb, 1.0 - opacity, colorize(heatmap), opacity, 0.0)
