"""The prediction panel: the result in words, shape and colour, the probability against the threshold,
warnings before numbers, errors, the Grad-CAM controls with their colour scale, and what the model saw.

A result the model cannot vouch for (outside its domain, or with warnings) must not look like a finding:
its badge is amber and says so, the reasons come first, the probability is small and grey, the bar grey.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QProgressBar,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.core.heatmap_colour import scale_description
from app.core.screening import NEGATIVE, POSITIVE, Explanation, Prediction
from app.core.numbers import probability_text, probability_with_percent, threshold_text
from app.ui.result_widgets import ColourLegend, ProbabilityBar, ResultBadge

DISCLAIMER = "Research tool, not a medical device: do not use it to diagnose or treat anyone."
NOT_ASSESSABLE = "Not assessable \u2014 outside the model's domain"
PREDICTED = ""  # the explained-class choice "the predicted class" (the default)
EXPLAIN_CHOICES = (("Predicted class (default)", PREDICTED), ("PNEUMONIA", POSITIVE), ("NORMAL", NEGATIVE))


def _small(label: QLabel, grey: bool = True) -> QLabel:
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.9)
    label.setFont(font)
    if grey:
        label.setStyleSheet("color: palette(placeholder-text);")
    label.setWordWrap(True)
    return label


def needs_caution(p: Prediction) -> bool:
    """Outside the domain or with any warning: the answer is shown, but not as a finding."""
    return not p.in_domain or bool(p.warnings)


def badge_of(p: Prediction) -> tuple[str, str]:
    """(badge kind, badge text) for a prediction."""
    if not p.in_domain:
        return "OUT_OF_DOMAIN", NOT_ASSESSABLE
    if p.warnings:
        return "CAUTION", f"{p.label} \u2014 with warnings"
    return p.label, p.label


def model_input_sentence(clahe: bool) -> str:
    return (f"The model saw the image {'with' if clahe else 'without'} CLAHE, as it was trained; "
            "the view settings do not change the result.")


class PredictionPanel(QWidget):
    opacity_changed = Signal(float)
    explained_class_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(300)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(6)

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

        # the reasons to be careful come before any number
        self.warning_label = QLabel("")
        self.warning_label.setWordWrap(True)
        self.warning_label.setTextFormat(Qt.TextFormat.PlainText)
        self.warning_label.setStyleSheet(
            "QLabel { background: #fff3cd; color: #4d3800; border: 1px solid #d9a400; border-radius: 4px; padding: 5px; }")
        layout.addWidget(self.warning_label)

        self.result_box = QWidget()
        result = QVBoxLayout(self.result_box)
        result.setContentsMargins(0, 0, 0, 0)
        result.setSpacing(2)
        self.caption = QLabel("Probability of pneumonia")
        self.probability_label = QLabel("")
        self.probability_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.probability_label.setWordWrap(True)
        self._big_font = self.probability_label.font()
        self._big_font.setPointSizeF(self._big_font.pointSizeF() * 1.8)
        self._big_font.setBold(True)
        self._small_font = self.probability_label.font()
        self.bar = ProbabilityBar()
        self.decision_label = _small(QLabel(""), grey=False)
        result.addWidget(self.caption)
        result.addWidget(self.probability_label)
        result.addWidget(self.bar)
        result.addWidget(self.decision_label)
        layout.addWidget(self.result_box)

        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet(
            "QLabel { background: #fdecea; color: #5f1010; border: 1px solid #c62828; border-radius: 4px; padding: 5px; }")
        layout.addWidget(self.error_label)

        self.model_input_label = _small(QLabel(""), grey=False)
        self.view_label = _small(QLabel(""))
        layout.addWidget(self.model_input_label)
        layout.addWidget(self.view_label)

        # Grad-CAM -------------------------------------------------------------------------------
        self.gradcam_group = QGroupBox("Grad-CAM heat map")
        grid = QGridLayout(self.gradcam_group)
        grid.setContentsMargins(8, 6, 8, 6)
        grid.setVerticalSpacing(4)
        self.gradcam_check = QCheckBox("Show heat map over the image")
        grid.addWidget(self.gradcam_check, 0, 0, 1, 3)
        explain_label = QLabel("E&xplain")
        grid.addWidget(explain_label, 1, 0)
        self.class_combo = QComboBox()
        for text, data in EXPLAIN_CHOICES:
            self.class_combo.addItem(text, data)
        self.class_combo.setToolTip("Which class the heat map explains: where the evidence for it lies")
        explain_label.setBuddy(self.class_combo)
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
        self.gradcam_note = _small(QLabel(""))
        grid.addWidget(self.gradcam_note, 4, 0, 1, 3)
        grid.setColumnStretch(1, 1)
        layout.addWidget(self.gradcam_group)

        layout.addStretch(1)
        self.model_label = _small(QLabel("Loading model\u2026"))
        layout.addWidget(self.model_label)
        disclaimer = _small(QLabel(DISCLAIMER), grey=False)
        disclaimer.setStyleSheet("QLabel { border-top: 1px solid palette(mid); padding-top: 4px; }")
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
        """POSITIVE, NEGATIVE, or PREDICTED ("") for the predicted class."""
        return str(self.class_combo.currentData())

    def set_explained_class(self, name: str) -> None:
        index = self.class_combo.findData(name)
        if index >= 0:
            self.class_combo.setCurrentIndex(index)

    def _on_opacity(self, value: int) -> None:
        self.opacity_value.setText(f"{value} %")
        self.opacity_changed.emit(value / 100.0)

    def set_gradcam_enabled(self, enabled: bool) -> None:
        """Off while there is nothing to explain (no image, an error, no model)."""
        self.gradcam_group.setEnabled(enabled)

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
        self.set_gradcam_enabled(False)

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
        caution = needs_caution(p)
        self.badge.set_state(*badge_of(p))
        if p.warnings:
            self.warning_label.setText("\n".join(f"\u26a0 {w}" for w in p.warnings))
            self.warning_label.show()
        self.caption.setVisible(not caution)
        if caution:
            self.probability_label.setFont(self._small_font)
            self.probability_label.setStyleSheet("color: palette(placeholder-text);")
            self.probability_label.setText(f"Probability of pneumonia {probability_with_percent(p.probability)}"
                                           " \u2014 not a reliable result")
        else:
            self.probability_label.setFont(self._big_font)
            self.probability_label.setStyleSheet("")
            self.probability_label.setText(probability_with_percent(p.probability))
        self.bar.set_value(p.probability, p.threshold, "" if caution else p.label)
        relation = "at or above" if p.probability >= p.threshold else "below"
        decision = f"{probability_text(p.probability)} is {relation} the threshold {threshold_text(p.threshold)}"
        if not p.in_domain:
            decision = f"The model would say {p.label}: do not rely on this probability."
        else:
            decision += f" \u2192 {p.label}" + (", read the warnings above." if p.warnings else ".")
        self.decision_label.setText(decision[0].upper() + decision[1:])
        self.result_box.show()
        self.model_input_label.setText(model_input_sentence(p.clahe))
        self.model_input_label.show()
        predicted = " (the predicted class)" if self.explained_class == PREDICTED else ""
        note = f"Explaining {explanation.explained_class}{predicted}. "
        if explanation.explained_class == NEGATIVE:  # warm colours on a film read as a finding unless told
            note += "Colours mark evidence for a normal film, not a finding. "
        if explanation.empty:
            note += "No region supports this class: the map is empty."
        else:
            note += scale_description(explanation.reference)
        self.legend.set_top_label("reference" if explanation.reference else "image max")
        self.gradcam_note.setText(note)
        self.gradcam_note.show()
        self.set_gradcam_enabled(True)

    def note_heat_hidden(self) -> None:
        """Said when the window keeps the heat map off for a result that must not look like a finding."""
        self.gradcam_note.setText(self.gradcam_note.text() + " Off for this result: tick the box to see it.")

    def show_error(self, message: str, title: str = "Cannot analyse this file") -> None:
        self._reset()
        self.badge.set_state("ERROR", title)
        self.error_label.setText(message)
        self.error_label.show()
        self.set_gradcam_enabled(False)

    def show_prediction_unavailable(self, message: str) -> None:
        """The image is shown but no prediction can be made (model missing or broken)."""
        self.show_error(message, "No prediction")

    def set_view_clahe(self, enabled: bool) -> None:
        self.view_label.setText("View: CLAHE contrast enhancement, for your eyes only." if enabled else "")
        self.view_label.setVisible(enabled)

    def set_model_text(self, text: str) -> None:
        self.model_label.setText(text)
