"""The ROC curve and the reliability diagram of an evaluation, drawn with OpenCV into PNG bytes.

matplotlib would add tens of megabytes to the packaged app for two figures; these need lines, dots and
text only. Both mark the operating point (the threshold in force) and carry their axes, labels and legend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from app.core.evaluate.metrics import reliability, roc_curve

FONT = cv2.FONT_HERSHEY_SIMPLEX
BLACK, GREY, LIGHT = (0, 0, 0), (140, 140, 140), (225, 225, 225)
BLUE, RED, ORANGE = (180, 90, 20), (40, 40, 210), (20, 140, 240)  # BGR
SIZE, LEFT, TOP, PLOT = 640, 90, 60, 500  # canvas side, plot origin (pixels from the left and top), plot side


@dataclass
class _Axes:
    """A unit square [0, 1] x [0, 1] drawn on a white canvas."""

    canvas: np.ndarray

    @staticmethod
    def at(x: float, y: float) -> tuple[int, int]:
        return int(round(LEFT + x * PLOT)), int(round(TOP + (1 - y) * PLOT))

    def polyline(self, xs: np.ndarray, ys: np.ndarray, colour: tuple[int, int, int], thickness: int = 2) -> None:
        points = np.array([self.at(x, y) for x, y in zip(xs, ys)], np.int32).reshape(-1, 1, 2)
        cv2.polylines(self.canvas, [points], False, colour, thickness, cv2.LINE_AA)

    def dashed(self, start: tuple[float, float], end: tuple[float, float], colour: tuple[int, int, int], dash: int = 8) -> None:
        (x0, y0), (x1, y1) = self.at(*start), self.at(*end)
        length = max(abs(x1 - x0), abs(y1 - y0), 1)
        for s in range(0, length, 2 * dash):
            a, b = s / length, min(s + dash, length) / length
            cv2.line(self.canvas, (int(x0 + a * (x1 - x0)), int(y0 + a * (y1 - y0))),
                     (int(x0 + b * (x1 - x0)), int(y0 + b * (y1 - y0))), colour, 1, cv2.LINE_AA)

    def dot(self, x: float, y: float, colour: tuple[int, int, int], radius: int = 6) -> None:
        cv2.circle(self.canvas, self.at(x, y), radius, colour, -1, cv2.LINE_AA)
        cv2.circle(self.canvas, self.at(x, y), radius, BLACK, 1, cv2.LINE_AA)

    def text(self, text: str, x: float, y: float, colour: tuple[int, int, int] = BLACK) -> None:
        cv2.putText(self.canvas, text, self.at(x, y), FONT, 0.45, colour, 1, cv2.LINE_AA)

    def legend(self, entries: list[tuple[str, tuple[int, int, int], str]], corner: str) -> None:
        """`entries`: (text, colour, "line" | "dash" | "dot"); `corner`: "lower right" or "upper left"."""
        width = 36 + max(cv2.getTextSize(text, FONT, 0.45, 1)[0][0] for text, _, _ in entries)
        height = 10 + 22 * len(entries)
        x = LEFT + PLOT - width - 10 if corner == "lower right" else LEFT + 10
        y = TOP + PLOT - height - 10 if corner == "lower right" else TOP + 10
        cv2.rectangle(self.canvas, (x, y), (x + width, y + height), (255, 255, 255), -1)
        cv2.rectangle(self.canvas, (x, y), (x + width, y + height), GREY, 1)
        for i, (text, colour, kind) in enumerate(entries):
            row = y + 18 + 22 * i
            if kind == "dot":
                cv2.circle(self.canvas, (x + 16, row - 4), 5, colour, -1, cv2.LINE_AA)
            else:
                for s in range(0, 20, 7 if kind == "dash" else 20):
                    cv2.line(self.canvas, (x + 6 + s, row - 4), (x + 6 + min(s + (4 if kind == "dash" else 20), 20), row - 4),
                             colour, 2 if kind == "line" else 1, cv2.LINE_AA)
            cv2.putText(self.canvas, text, (x + 32, row), FONT, 0.45, BLACK, 1, cv2.LINE_AA)


def _axes(title: str, subtitle: str, x_label: str, y_label: str) -> _Axes:
    canvas = np.full((SIZE, SIZE, 3), 255, np.uint8)
    axes = _Axes(canvas)
    for tick in np.linspace(0, 1, 6):
        cv2.line(canvas, axes.at(tick, 0), axes.at(tick, 1), LIGHT, 1)
        cv2.line(canvas, axes.at(0, tick), axes.at(1, tick), LIGHT, 1)
        label = f"{tick:.1f}"
        (w, h), _ = cv2.getTextSize(label, FONT, 0.45, 1)
        x, y = axes.at(tick, 0)
        cv2.putText(canvas, label, (x - w // 2, y + h + 8), FONT, 0.45, BLACK, 1, cv2.LINE_AA)
        x, y = axes.at(0, tick)
        cv2.putText(canvas, label, (x - w - 8, y + h // 2), FONT, 0.45, BLACK, 1, cv2.LINE_AA)
    cv2.rectangle(canvas, axes.at(0, 1), axes.at(1, 0), BLACK, 1)
    (w, _), _ = cv2.getTextSize(x_label, FONT, 0.55, 1)
    cv2.putText(canvas, x_label, (LEFT + (PLOT - w) // 2, TOP + PLOT + 50), FONT, 0.55, BLACK, 1, cv2.LINE_AA)
    (w, h), _ = cv2.getTextSize(y_label, FONT, 0.55, 1)
    strip = np.full((h + 8, w + 4, 3), 255, np.uint8)
    cv2.putText(strip, y_label, (2, h + 2), FONT, 0.55, BLACK, 1, cv2.LINE_AA)
    rotated = cv2.rotate(strip, cv2.ROTATE_90_COUNTERCLOCKWISE)
    y0 = TOP + (PLOT - rotated.shape[0]) // 2
    canvas[y0:y0 + rotated.shape[0], 18:18 + rotated.shape[1]] = rotated
    cv2.putText(canvas, title, (LEFT, 28), FONT, 0.6, BLACK, 1, cv2.LINE_AA)
    cv2.putText(canvas, subtitle, (LEFT, 48), FONT, 0.45, GREY, 1, cv2.LINE_AA)
    return axes


def _png(axes: _Axes) -> bytes:
    ok, encoded = cv2.imencode(".png", axes.canvas)
    if not ok:
        raise ValueError("PNG encoding failed")
    return encoded.tobytes()


def roc_png(y: np.ndarray, p: np.ndarray, metrics: dict[str, Any], subtitle: str) -> bytes:
    """ROC curve with the chance diagonal and the operating point (1 - specificity, sensitivity)."""
    axes = _axes("ROC curve", subtitle, "1 - specificity (false positive rate)", "sensitivity (true positive rate)")
    fpr, tpr, _ = roc_curve(y, p)
    axes.dashed((0, 0), (1, 1), GREY)
    axes.polyline(fpr, tpr, BLUE)
    axes.dot(1 - metrics["specificity"], metrics["sensitivity"], RED)
    axes.legend([(f"ROC, AUC {metrics['auc']:.3f}", BLUE, "line"), ("chance", GREY, "dash"),
                 (f"threshold {metrics['threshold']:.3f}: sensitivity {metrics['sensitivity']:.3f}, "
                  f"specificity {metrics['specificity']:.3f}", RED, "dot")], "lower right")
    return _png(axes)


def reliability_png(y: np.ndarray, p: np.ndarray, metrics: dict[str, Any], subtitle: str) -> bytes:
    """Observed pneumonia rate against the mean probability in ten bins (dots sized by their count, a grey
    histogram of the probabilities along the bottom), the diagonal of perfect calibration and the threshold."""
    axes = _axes("Reliability diagram", subtitle, "predicted probability of pneumonia", "observed share with pneumonia")
    mean_p, observed, counts = reliability(y, p)
    histogram = np.bincount(np.clip((np.asarray(p) * 10).astype(int), 0, 9), minlength=10)
    for b, count in enumerate(histogram):
        if count:
            cv2.rectangle(axes.canvas, axes.at(b / 10 + 0.01, 0.15 * count / histogram.max()), axes.at(b / 10 + 0.09, 0), LIGHT, -1)
    axes.dashed((0, 0), (1, 1), GREY)
    axes.dashed((metrics["threshold"], 0), (metrics["threshold"], 1), RED)
    if len(mean_p):
        axes.polyline(mean_p, observed, ORANGE)
        for x, value, count in zip(mean_p, observed, counts):
            axes.dot(x, value, ORANGE, int(3 + 5 * np.sqrt(count / counts.max())))
    axes.legend([(f"observed (ECE {metrics['ece']:.3f}, n {metrics['n']})", ORANGE, "dot"), ("perfect calibration", GREY, "dash"),
                 (f"threshold {metrics['threshold']:.3f}", RED, "dash"), ("images per bin", LIGHT, "line")], "upper left")
    return _png(axes)
