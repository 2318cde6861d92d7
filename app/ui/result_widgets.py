"""The result panel's drawn parts: the badge, the probability bar with its threshold, the colour legend,
and a label that elides a long file name in the middle (its start and its extension stay readable)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QWidget

from app.core.explain.colour import FLOOR, colour_index
from app.ui.imaging import BADGE_STYLES, rgba_to_qimage, shape_icon
from app.core.numbers import threshold_text

NEUTRAL_FILL = "#9e9e9e"  # the bar of a result not to rely on: no pneumonia red, no normal green


def _smaller(font: QFont, factor: float = 0.85) -> QFont:
    font = QFont(font)
    font.setPointSizeF(font.pointSizeF() * factor)
    return font


class ResultBadge(QFrame):
    """The answer as a coloured box with a distinct shape and the words, so colour is never needed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ResultBadge")
        self._icon = QLabel()
        self._icon.setFixedSize(QSize(30, 30))
        self._text = QLabel()
        font = self._text.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self._text.setFont(font)
        self._text.setWordWrap(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(10)
        layout.addWidget(self._icon)
        layout.addWidget(self._text, 1)
        self.kind = ""
        self.set_state("", "")

    def text(self) -> str:
        return self._text.text()

    def set_state(self, kind: str, text: str) -> None:
        """`kind`: a key of BADGE_STYLES, or "" for a neutral, empty box."""
        self.kind = kind
        self._text.setText(text)
        if kind in BADGE_STYLES:
            colour = BADGE_STYLES[kind][0]
            self._icon.setPixmap(shape_icon(kind, 28, "#ffffff", "badge"))
            self._icon.show()
            self.setStyleSheet(f"#ResultBadge {{ background: {colour}; border-radius: 6px; }}"
                               f"#ResultBadge QLabel {{ color: white; }}")
        else:
            self._icon.hide()
            self.setStyleSheet("#ResultBadge { background: palette(alternate-base); border-radius: 6px; }")
        self.setAccessibleName(f"Result: {text}" if text else "Result")
        self.setVisible(bool(text))


class ProbabilityBar(QWidget):
    """0 to 1 scale with the probability filled in and the decision threshold marked and labelled."""

    HEIGHT = 40

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.probability: float | None = None
        self.threshold = 0.5
        self.kind = ""
        self.setMinimumHeight(self.HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(260, self.HEIGHT)

    def set_value(self, probability: float | None, threshold: float, kind: str = "") -> None:
        """`kind` "" draws the fill grey: a result that must not look like a finding."""
        self.probability, self.threshold, self.kind = probability, threshold, kind
        self.setToolTip("" if probability is None else
                        f"Probability {probability:.3f}; threshold {threshold_text(threshold)}")
        self.setAccessibleDescription(self.toolTip())
        self.update()

    @property
    def fill_colour(self) -> QColor:
        return QColor(BADGE_STYLES[self.kind][0] if self.kind in BADGE_STYLES else NEUTRAL_FILL)

    def paintEvent(self, event) -> None:  # noqa: ANN001
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        margin, top, height = 8.0, 10.0, 12.0
        width = self.width() - 2 * margin
        painter.setPen(QPen(palette.mid().color(), 1))
        painter.setBrush(palette.base())
        painter.drawRoundedRect(QRectF(margin, top, width, height), 4, 4)
        if self.probability is not None:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.fill_colour)
            painter.drawRoundedRect(QRectF(margin, top, max(2.0, width * self.probability), height), 4, 4)
        # threshold marker: a dark line through the bar with a downward triangle above it
        x = margin + width * self.threshold
        text_colour = palette.windowText().color()
        painter.setPen(QPen(text_colour, 2))
        painter.drawLine(int(x), int(top - 4), int(x), int(top + height + 4))
        painter.setBrush(text_colour)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawPolygon(QPolygonF([QPointF(x - 5, top - 10), QPointF(x + 5, top - 10), QPointF(x, top - 4)]))
        painter.setFont(_smaller(self.font()))
        painter.setPen(text_colour)
        label_top = top + height + 4
        painter.drawText(QRectF(margin, label_top, 30, 16), Qt.AlignmentFlag.AlignLeft, "0")
        painter.drawText(QRectF(margin + width - 30, label_top, 30, 16), Qt.AlignmentFlag.AlignRight, "1")
        text = f"threshold {threshold_text(self.threshold)}"
        text_width = painter.fontMetrics().horizontalAdvance(text) + 4
        left = min(max(x - text_width / 2, margin + 14), margin + width - text_width - 14)
        painter.drawText(QRectF(left, label_top, text_width, 16), Qt.AlignmentFlag.AlignCenter, text)
        painter.end()


class ColourLegend(QWidget):
    """The heat map's colours as drawn over a grey film, low to high, with the floor below which all is clear."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bars = {name: QPixmap.fromImage(rgba_to_qimage(colour_index(np.arange(256, dtype=np.uint8).reshape(1, 256), name)))
                      for name in ("PNEUMONIA", "NORMAL")}
        self.explained_class = "PNEUMONIA"
        self.top_label = "reference"
        self.setMinimumHeight(32)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(260, 32)

    def set_scale(self, explained_class: str, top_label: str) -> None:
        """The class's colour scale; `top_label` "reference" (a fixed scale) or "image max" (per image)."""
        self.explained_class, self.top_label = explained_class, top_label
        self.update()

    def paintEvent(self, event) -> None:  # noqa: ANN001
        painter = QPainter(self)
        margin = 8
        bar = QRectF(margin, 2, self.width() - 2 * margin, 12)
        painter.fillRect(bar, QColor(119, 119, 119))  # a mid-grey film, so the clear low end shows as clear
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        pixmap = self._bars.get(self.explained_class, self._bars["PNEUMONIA"])
        painter.drawPixmap(bar, pixmap, QRectF(pixmap.rect()))
        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(bar)
        floor = bar.left() + bar.width() * FLOOR
        painter.setPen(QPen(self.palette().windowText().color(), 1))
        painter.drawLine(QPointF(floor, bar.top()), QPointF(floor, bar.bottom() + 3))
        painter.setFont(_smaller(self.font()))
        below = QRectF(margin, 15, bar.width(), 16)
        painter.drawText(below, int(Qt.AlignmentFlag.AlignLeft), "clear")
        painter.drawText(below, int(Qt.AlignmentFlag.AlignHCenter),
                         "evidence for " + self.explained_class.lower())
        painter.drawText(below, int(Qt.AlignmentFlag.AlignRight), self.top_label)
        painter.end()


class ElidedLabel(QLabel):
    """One line; a text too long for the width loses its middle ("PNEUMONIA/person1…_bacteria_12.jpeg")."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text
        self._elide()

    def full_text(self) -> str:
        return self._full

    def _elide(self) -> None:
        super().setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle, max(20, self.width())))

    def resizeEvent(self, event) -> None:  # noqa: ANN001
        super().resizeEvent(event)
        self._elide()
