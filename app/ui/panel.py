"""The prediction panel: result in words, shape and colour, probability with the threshold, warnings,
errors, Grad-CAM controls with a colour scale, and what the model was actually fed."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.core.gradcam import colormap_lut
from app.core.screening import NEGATIVE, OUT_OF_DOMAIN, POSITIVE, Explanation, Prediction
from app.ui.imaging import BADGE_STYLES, lut_to_qimage, shape_icon

DISCLAIMER = "Research tool, not a medical device: do not use it to diagnose or treat anyone."


def _small(label: QLabel, grey: bool = True) -> QLabel:
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.9)
    label.setFont(font)
    if grey:
        label.setStyleSheet("color: palette(placeholder-text);")
    label.setWordWrap(True)
    return label


class ResultBadge(QFrame):
    """The answer as a coloured box with a distinct shape and the word in capitals."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ResultBadge")
        self._icon = QLabel()
        self._icon.setFixedSize(QSize(30, 30))
        self._text = QLabel()
        font = self._text.font()
        font.setPointSizeF(font.pointSizeF() * 1.45)
        font.setBold(True)
        self._text.setFont(font)
        self._text.setWordWrap(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(10)
        layout.addWidget(self._icon)
        layout.addWidget(self._text, 1)
        self.kind = ""
        self.set_state("", "")

    def text(self) -> str:
        return self._text.text()

    def set_state(self, kind: str, text: str) -> None:
        """`kind`: PNEUMONIA, NORMAL, OUT_OF_DOMAIN, ERROR, or "" for a neutral, empty box."""
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

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.probability: float | None = None
        self.threshold = 0.5
        self.kind = ""
        self.setMinimumHeight(54)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(260, 54)

    def set_value(self, probability: float | None, threshold: float, kind: str = "") -> None:
        self.probability, self.threshold, self.kind = probability, threshold, kind
        if probability is None:
            self.setToolTip("")
        else:
            self.setToolTip(f"Probability {probability:.3f}; threshold {threshold:.3f}")
        self.setAccessibleDescription(self.toolTip())
        self.update()

    def paintEvent(self, event) -> None:  # noqa: ANN001
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        margin = 8.0
        top, height = 14.0, 16.0
        width = self.width() - 2 * margin
        track = QRectF(margin, top, width, height)
        painter.setPen(QPen(palette.mid().color(), 1))
        painter.setBrush(palette.base())
        painter.drawRoundedRect(track, 4, 4)
        if self.probability is not None:
            colour = QColor(BADGE_STYLES.get(self.kind, ("#607d8b",))[0])
            fill = QRectF(margin, top, max(2.0, width * self.probability), height)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRoundedRect(fill, 4, 4)
        # threshold marker: a dark line through the bar with a downward triangle above it
        x = margin + width * self.threshold
        text_colour = palette.windowText().color()
        painter.setPen(QPen(text_colour, 2))
        painter.drawLine(int(x), int(top - 4), int(x), int(top + height + 4))
        painter.setBrush(text_colour)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawPolygon(QPolygonF([QPointF(x - 5, top - 10), QPointF(x + 5, top - 10), QPointF(x, top - 4)]))
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 0.85)
        painter.setFont(font)
        painter.setPen(text_colour)
        label_top = top + height + 5
        painter.drawText(QRectF(margin, label_top, 30, 16), Qt.AlignmentFlag.AlignLeft, "0")
        painter.drawText(QRectF(margin + width - 30, label_top, 30, 16), Qt.AlignmentFlag.AlignRight, "1")
        text = f"threshold {self.threshold:.2f}"
        text_width = painter.fontMetrics().horizontalAdvance(text) + 4
        left = min(max(x - text_width / 2, margin + 14), margin + width - text_width - 14)
        painter.drawText(QRectF(left, label_top, text_width, 16), Qt.AlignmentFlag.AlignCenter, text)
        painter.end()


class ColourLegend(QWidget):
    """The Grad-CAM colour scale (the engine's `colormap_lut`), low to high evidence."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bar = QPixmap.fromImage(lut_to_qimage(colormap_lut()))
        self.setMinimumHeight(36)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Grad-CAM colour scale: blue = little evidence, red = most evidence for the explained class")

    def sizeHint(self) -> QSize:
        return QSize(260, 36)

    def paintEvent(self, event) -> None:  # noqa: ANN001
        painter = QPainter(self)
        margin = 8
        bar = QRectF(margin, 2, self.width() - 2 * margin, 14)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(bar, self._bar, QRectF(self._bar.rect()))
        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(bar)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 0.85)
        painter.setFont(font)
        painter.setPen(self.palette().windowText().color())
        below = QRectF(margin, 18, bar.width(), 16)
        painter.drawText(below, int(Qt.AlignmentFlag.AlignLeft), "low")
        painter.drawText(below, int(Qt.AlignmentFlag.AlignHCenter), "evidence")
        painter.drawText(below, int(Qt.AlignmentFlag.AlignRight), "high")
        painter.end()


class PredictionPanel(QWidget):
    opacity_changed = Signal(float)
    explained_class_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(300)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(8)

        self.file_label = QLabel("No image open")
        self.file_label.setWordWrap(True)
        bold = self.file_label.font()
        bold.setBold(True)
        self.file_label.setFont(bold)
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.image_info = _small(QLabel(""))
        layout.addWidget(self.file_label)
        layout.addWidget(self.image_info)

        self.badge = ResultBadge()
        layout.addWidget(self.badge)

        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(6)
        self.busy.hide()
        self.state_label = QLabel("")
        self.state_label.setWordWrap(True)
        layout.addWidget(self.state_label)
        layout.addWidget(self.busy)

        self.result_box = QWidget()
        result = QVBoxLayout(self.result_box)
        result.setContentsMargins(0, 0, 0, 0)
        result.setSpacing(4)
        caption = QLabel("Probability of pneumonia")
        self.probability_label = QLabel("")
        big = self.probability_label.font()
        big.setPointSizeF(big.pointSizeF() * 1.9)
        big.setBold(True)
        self.probability_label.setFont(big)
        self.probability_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = ProbabilityBar()
        self.decision_label = _small(QLabel(""), grey=False)
        result.addWidget(caption)
        result.addWidget(self.probability_label)
        result.addWidget(self.bar)
        result.addWidget(self.decision_label)
        layout.addWidget(self.result_box)

        self.warning_label = QLabel("")
        self.warning_label.setWordWrap(True)
        self.warning_label.setTextFormat(Qt.TextFormat.PlainText)
        self.warning_label.setStyleSheet(
            "QLabel { background: #fff3cd; color: #4d3800; border: 1px solid #d9a400; border-radius: 4px; padding: 6px; }")
        layout.addWidget(self.warning_label)

        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet(
            "QLabel { background: #fdecea; color: #5f1010; border: 1px solid #c62828; border-radius: 4px; padding: 6px; }")
        layout.addWidget(self.error_label)

        self.model_input_label = _small(QLabel(""), grey=False)
        self.view_label = _small(QLabel(""))
        layout.addWidget(self.model_input_label)
        layout.addWidget(self.view_label)

        # Grad-CAM -------------------------------------------------------------------------------
        self.gradcam_group = QGroupBox("Grad-CAM heat map")
        grid = QGridLayout(self.gradcam_group)
        grid.setContentsMargins(10, 8, 10, 8)
        self.gradcam_check = QCheckBox("Show heat map over the image")
        grid.addWidget(self.gradcam_check, 0, 0, 1, 3)
        grid.addWidget(QLabel("Explain"), 1, 0)
        self.class_combo = QComboBox()
        self.class_combo.addItem("PNEUMONIA (default)", POSITIVE)
        self.class_combo.addItem("NORMAL", NEGATIVE)
        self.class_combo.setToolTip("Which class the heat map explains: where the evidence for it lies")
        grid.addWidget(self.class_combo, 1, 1, 1, 2)
        grid.addWidget(QLabel("Opacity"), 2, 0)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setSingleStep(5)
        self.opacity_slider.setPageStep(10)
        self.opacity_slider.setValue(40)
        self.opacity_slider.setAccessibleName("Heat map opacity")
        self.opacity_value = QLabel("40 %")
        self.opacity_value.setMinimumWidth(40)
        grid.addWidget(self.opacity_slider, 2, 1)
        grid.addWidget(self.opacity_value, 2, 2)
        self.legend = ColourLegend()
        grid.addWidget(self.legend, 3, 0, 1, 3)
        self.gradcam_note = _small(QLabel("Explained class: PNEUMONIA"))
        grid.addWidget(self.gradcam_note, 4, 0, 1, 3)
        grid.setColumnStretch(1, 1)
        layout.addWidget(self.gradcam_group)

        layout.addStretch(1)
        self.model_label = _small(QLabel("Loading model\u2026"))
        layout.addWidget(self.model_label)
        disclaimer = _small(QLabel(DISCLAIMER), grey=False)
        disclaimer.setStyleSheet("QLabel { border-top: 1px solid palette(mid); padding-top: 6px; }")
        layout.addWidget(disclaimer)

        self.opacity_slider.valueChanged.connect(self._on_opacity)
        self.class_combo.currentIndexChanged.connect(
            lambda _i: self.explained_class_changed.emit(self.explained_class))
        self.prediction: Prediction | None = None
        self.show_empty()

    # --- Grad-CAM controls ---------------------------------------------------------------------
    @property
    def opacity(self) -> float:
        return self.opacity_slider.value() / 100.0

    def set_opacity(self, value: float) -> None:
        self.opacity_slider.setValue(int(round(max(0.0, min(1.0, value)) * 100)))

    @property
    def explained_class(self) -> str:
        return str(self.class_combo.currentData())

    def set_explained_class(self, name: str) -> None:
        index = self.class_combo.findData(name)
        if index >= 0:
            self.class_combo.setCurrentIndex(index)

    def _on_opacity(self, value: int) -> None:
        self.opacity_value.setText(f"{value} %")
        self.opacity_changed.emit(value / 100.0)

    # --- states --------------------------------------------------------------------------------
    def _reset(self) -> None:
        self.prediction = None
        self.badge.set_state("", "")
        self.result_box.hide()
        self.warning_label.hide()
        self.error_label.hide()
        self.busy.hide()
        self.state_label.hide()
        self.model_input_label.hide()
        self.gradcam_note.setText("")
        self.gradcam_note.hide()

    def show_empty(self) -> None:
        self._reset()
        self.file_label.setText("No image open")
        self.image_info.setText("Drop an X-ray on the window or press Ctrl+O.")

    def show_opening(self, path: Path, position: str = "") -> None:
        self._reset()
        self.file_label.setText(Path(path).name)
        self.file_label.setToolTip(str(path))
        self.image_info.setText(position)
        self._busy("Opening\u2026")

    def show_image_info(self, path: Path, width: int, height: int, fmt: str, position: str = "") -> None:
        self.file_label.setText(Path(path).name)
        self.file_label.setToolTip(str(path))
        details = f"{width} \u00d7 {height} px \u00b7 {fmt}"
        self.image_info.setText(f"{details} \u00b7 {position}" if position else details)

    def show_analysing(self, model_ready: bool) -> None:
        self._busy("Analysing\u2026" if model_ready else "Loading model\u2026 the result follows when it is ready.")

    def _busy(self, text: str) -> None:
        self.state_label.setText(text)
        self.state_label.show()
        self.busy.show()

    def show_prediction(self, explanation: Explanation) -> None:
        p = explanation.prediction
        self._reset()
        self.prediction = p
        if not p.in_domain:
            kind, text = "OUT_OF_DOMAIN", f"{OUT_OF_DOMAIN[0].upper()}{OUT_OF_DOMAIN[1:]}"
        else:
            kind, text = p.label, p.label
        self.badge.set_state(kind, text)
        self.probability_label.setText(f"{p.probability:.3f}  ({p.probability:.1%})")
        self.bar.set_value(p.probability, p.threshold, p.label)
        relation = "at or above" if p.probability >= p.threshold else "below"
        decision = f"{relation} the threshold {p.threshold:.3f} \u2192 {p.label}"
        if not p.in_domain:
            decision += (f". The model would say {p.label}, but the image is {OUT_OF_DOMAIN}: "
                         "do not rely on this probability.")
        self.decision_label.setText(decision[0].upper() + decision[1:])
        self.result_box.show()
        if p.warnings:
            self.warning_label.setText("\n".join(f"\u26a0 {w}" for w in p.warnings))
            self.warning_label.show()
        self.model_input_label.setText(
            f"Model input: as trained (CLAHE {'on' if p.clahe else 'off'}), whatever the view shows.")
        self.model_input_label.show()
        note = f"Explained class: {explanation.explained_class}."
        if explanation.empty:
            note += " No region supports this class: the map is empty."
        else:
            note += " Colours are relative to this image's strongest evidence; they are not probabilities."
        self.gradcam_note.setText(note)
        self.gradcam_note.show()

    def show_error(self, message: str, title: str = "Cannot analyse this file") -> None:
        self._reset()
        self.badge.set_state("ERROR", title)
        self.error_label.setText(message)
        self.error_label.show()

    def show_prediction_unavailable(self, message: str) -> None:
        """The image is shown but no prediction can be made (model missing or broken)."""
        self._reset()
        self.badge.set_state("ERROR", "No prediction")
        self.error_label.setText(message)
        self.error_label.show()

    def set_view_clahe(self, enabled: bool) -> None:
        self.view_label.setText(
            "View: CLAHE contrast enhancement, for your eyes only; the model input is unchanged."
            if enabled else "")
        self.view_label.setVisible(enabled)

    def set_model_text(self, text: str) -> None:
        self.model_label.setText(text)
