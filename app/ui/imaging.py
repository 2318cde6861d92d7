"""NumPy arrays <-> QImage, and the small pictures the UI draws itself (status shapes, legend)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPainterPath, QPen, QPixmap, QPolygonF


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


def lut_to_qimage(lut: np.ndarray) -> QImage:
    """A (256, 3) RGB colour table -> a 256 x 1 image to stretch into a legend bar."""
    return rgb_to_qimage(np.ascontiguousarray(lut.reshape(1, -1, 3)))


# Each result has its own colour AND its own shape and word, so nothing depends on seeing colour.
BADGE_STYLES = {
    "PNEUMONIA": ("#b71c1c", "triangle", "!"),
    "NORMAL": ("#1b5e20", "circle", "\u2713"),
    "OUT_OF_DOMAIN": ("#8a5a00", "diamond", "?"),
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
