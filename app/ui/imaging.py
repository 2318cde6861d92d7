"""NumPy arrays <-> QImage, the viewer's image layers, and the small pictures the UI draws itself.

The layers (plain, CLAHE, coloured heat map) are built once per image or explanation on a worker
thread (QImage, unlike QPixmap, may be made off the GUI thread); toggling CLAHE or Grad-CAM and moving
the opacity slider then only switch or blend ready layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

from app.core.explain.colour import Explained, heat_rgba
from app.core.io.images import LoadedImage
from app.core.io.preprocessing import PreprocessConfig, apply_clahe


def gray_to_qimage(gray: np.ndarray) -> QImage:
    """(H, W) uint8 -> an 8-bit grayscale QImage that owns a copy of the pixels."""
    gray = np.ascontiguousarray(gray, dtype=np.uint8)
    height, width = gray.shape
    return QImage(gray.data, width, height, gray.strides[0], QImage.Format.Format_Grayscale8).copy()


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """(H, W, 3) uint8 RGB -> a QImage that owns a copy of the pixels."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = rgb.shape[:2]
    return QImage(rgb.data, width, height, rgb.strides[0], QImage.Format.Format_RGB888).copy()


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """Any QImage -> (H, W, 3) uint8 RGB array (for tests and screenshots)."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes()).reshape(height, stride)
    return data[:, : width * 3].reshape(height, width, 3).copy()


@dataclass(frozen=True)
class ImageViews:
    """A loaded image and the two ways the viewer shows it."""

    image: LoadedImage
    plain: QImage
    clahe: QImage  # view only: the engine's CLAHE with the model card's settings
    clahe_settings: tuple[float, int]  # (clip limit, tile grid) that `clahe` was made with


def clahe_settings(config: PreprocessConfig) -> tuple[float, int]:
    return config.clahe_clip_limit, config.clahe_tile_grid


def image_views(image: LoadedImage, config: PreprocessConfig) -> ImageViews:
    """Both view layers of `image` (about 15 ms for a 5-megapixel X-ray; run it off the GUI thread)."""
    settings = clahe_settings(config)
    return ImageViews(image, gray_to_qimage(image.pixels), gray_to_qimage(apply_clahe(image.pixels, *settings)), settings)


def rgba_to_qimage(rgba: np.ndarray) -> QImage:
    """(H, W, 4) uint8 RGBA (not premultiplied) -> a QImage that owns a copy of the pixels."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    height, width = rgba.shape[:2]
    return QImage(rgba.data, width, height, rgba.strides[0], QImage.Format.Format_RGBA8888).copy()


HEAT_MAX_SIDE = 1024  # px: a bilinear 7 x 7 map holds no finer detail; the viewer scales the layer up


def heat_layer(explanation: Explained, shape: tuple[int, int]) -> QImage:
    """The heat map for a picture of `shape` in the legend's colours and transparency, to blend at any
    opacity: at that size up to `HEAT_MAX_SIDE`, else scaled down (colouring 20 megapixels cost 170 ms
    on the drop path; the viewer and the export scale the layer to the picture, smoothly)."""
    scale = min(1.0, HEAT_MAX_SIDE / max(shape))
    reduced = (max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale)))
    return rgba_to_qimage(heat_rgba(explanation, reduced))


# Each result has its own colour AND its own shape and word, so nothing depends on seeing colour.
BADGE_STYLES = {
    "PNEUMONIA": ("#b71c1c", "triangle", "!"),
    "NORMAL": ("#1b5e20", "circle", "\u2713"),
    "NOT_XRAY": ("#5b4a7a", "square", "\u2205"),  # not a chest X-ray: no result, never a result colour
    "OUTSIDE_POPULATION": ("#8a5a00", "diamond", "?"),  # another population's film: not assessable, amber
    "CAUTION": ("#8a5a00", "diamond", "!"),  # a result with warnings (DICOM header, image quality)
    "ERROR": ("#455a64", "square", "\u00d7"),
}


def shape_icon(kind: str, size: int = 28, fill: str = "#ffffff", glyph_colour: str = "#000000") -> QPixmap:
    """A white shape with a glyph in it (triangle '!', circle check mark, diamond '?', square 'x')."""
    colour, shape, glyph = BADGE_STYLES[kind]
    ratio = 2.0
    pixmap = QPixmap(int(size * ratio), int(size * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(QColor(fill)))
    s = float(size)
    m = 1.5
    if shape == "triangle":
        painter.drawPolygon(QPolygonF([QPointF(s / 2, m), QPointF(s - m, s - m), QPointF(m, s - m)]))
        text_rect = QRectF(0, s * 0.28, s, s * 0.7)
    elif shape == "circle":
        painter.drawEllipse(QRectF(m, m, s - 2 * m, s - 2 * m))
        text_rect = QRectF(0, 0, s, s)
    elif shape == "diamond":
        path = QPainterPath()
        path.addPolygon(QPolygonF([QPointF(s / 2, m), QPointF(s - m, s / 2), QPointF(s / 2, s - m), QPointF(m, s / 2)]))
        painter.drawPath(path)
        text_rect = QRectF(0, 0, s, s)
    else:
        painter.drawRoundedRect(QRectF(m + 1, m + 1, s - 2 * m - 2, s - 2 * m - 2), 3, 3)
        text_rect = QRectF(0, 0, s, s)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(s * 0.55))
    painter.setFont(font)
    painter.setPen(QPen(QColor(colour if glyph_colour == "badge" else glyph_colour)))
    painter.drawText(text_rect, Qt.AlignmentFlag.AlignCenter, glyph)
    painter.end()
    return pixmap
