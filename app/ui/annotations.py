"""Text drawn in the view's corners: who and what the image is, the window/level, and the heat map's caption.

A wrong-patient error is the classic viewer failure, so the DICOM identity (patient name, ID, age, sex,
study date, view) and the file name sit on the image itself, where the eye is, not in a side panel.
Painted in viewport coordinates (the text stays the same size at any zoom); `paint_annotations` also
draws them into an exported picture when the user asks for that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter

from app.core.io.images import LoadedImage

SEX = {"M": "male", "F": "female", "O": "other"}
BOX = QColor(0, 0, 0, 150)  # behind the corner texts


@dataclass(frozen=True)
class Annotations:
    top_left: tuple[str, ...] = ()  # patient
    top_right: tuple[str, ...] = ()  # study
    bottom_left: tuple[str, ...] = ()  # file
    bottom_right: tuple[str, ...] = ()  # window/level readout
    caption: str = ""  # top centre: what the heat map shows
    caption_green: bool = False  # the NORMAL explanation's caption, in its scale's colour

    def lines(self) -> list[str]:
        return [*self.top_left, *self.top_right, *self.bottom_left, *self.bottom_right, *([self.caption] if self.caption else [])]


def age_text(age: str) -> str:
    """DICOM nnnD/W/M/Y -> "3 years", "10 months"; anything else as stored."""
    units = {"D": "days", "W": "weeks", "M": "months", "Y": "years"}
    if len(age) == 4 and age[:3].isdigit() and age[3] in units:
        return f"{int(age[:3])} {units[age[3]]}"
    return age


def identity(image: LoadedImage, path: Path) -> Annotations:
    """The patient and study lines of a DICOM (empty for other formats) and the file name for any image."""
    info = image.identity
    patient = [info.get("patient_name", ""), f"ID {info['patient_id']}" if info.get("patient_id") else "",
               " \u00b7 ".join(v for v in (age_text(image.patient_age), SEX.get(info.get("patient_sex", ""), "")) if v)]
    study = [info.get("study_date", ""), f"View {image.view_position}" if image.view_position else ""]
    return Annotations(tuple(t for t in patient if t), tuple(t for t in study if t), (path.name,))


def paint_annotations(painter: QPainter, rect: QRect, annotations: Annotations, pixel_size: int) -> None:
    """Draw the corner texts inside `rect`, white on a translucent dark box, readable on any film."""
    font = QFont(painter.font())
    font.setPixelSize(max(8, pixel_size))
    painter.setFont(font)
    metrics = QFontMetrics(font)
    pad = max(3, pixel_size // 3)
    line = metrics.height()
    corners = ((annotations.top_left, Qt.AlignmentFlag.AlignLeft, True),
               (annotations.top_right, Qt.AlignmentFlag.AlignRight, True),
               (annotations.bottom_left, Qt.AlignmentFlag.AlignLeft, False),
               (annotations.bottom_right, Qt.AlignmentFlag.AlignRight, False))
    for lines, align, top in corners:
        for number, text in enumerate(lines):
            row = number if top else len(lines) - 1 - number
            y = rect.top() + pad + row * (line + 2) if top else rect.bottom() - pad - (row + 1) * (line + 2)
            _box(painter, rect, text, y, align, pad, metrics)
    if annotations.caption:
        _box(painter, rect, annotations.caption, rect.top() + pad, Qt.AlignmentFlag.AlignHCenter, pad, metrics,
             QColor(0, 90, 40, 220) if annotations.caption_green else QColor(0, 0, 0, 170))


def _box(painter: QPainter, rect: QRect, text: str, y: int, align: Qt.AlignmentFlag, pad: int,
         metrics: QFontMetrics, background: QColor = BOX) -> None:
    width = metrics.horizontalAdvance(text) + 2 * pad
    if align == Qt.AlignmentFlag.AlignLeft:
        x = rect.left() + pad
    elif align == Qt.AlignmentFlag.AlignRight:
        x = rect.right() - pad - width
    else:
        x = rect.center().x() - width // 2
    box = QRectF(x, y, width, metrics.height() + 2)
    painter.fillRect(box, background)
    painter.setPen(QColor("#ffffff"))
    painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)
