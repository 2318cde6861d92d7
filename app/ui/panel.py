"""The prediction panel: the result in words, shape and colour, the probability against the threshold,
warnings before numbers, errors, the Grad-CAM controls with their colour scale, and what the model saw.

A result the model cannot vouch for must not look like a finding: each scope state has its own badge
(`app.ui.scope_looks`), the reasons come first; *not a chest X-ray* shows no probability at all,
*outside the model's population* shows it small and grey, and only *near the domain edge* keeps its label.
The panel also says what the number is: a probability calibrated for one population, or for a site.
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

from app.core.explain.colour import scale_description
from app.core.model.scope import IN_SCOPE, NOT_XRAY, OUTSIDE_POPULATION
from app.core.screening import NEGATIVE, POSITIVE, Explanation, Prediction
from app.core.numbers import probability_text, probability_with_percent, threshold_text
from app.ui.result_widgets import ColourLegend, ElidedLabel, ProbabilityBar, ResultBadge
from app.ui.scope_looks import look_of

DISCLAIMER = "Research tool, not a medical device: do not use it to diagnose or treat anyone."
# Who the card's calibration was fitted on (the validation split of the training hospital's films).
CALIBRATED_FOR = ("Calibrated on children aged 1\u20135 at one hospital; at another site see "
                  "File \u2192 Site Calibration.")
EXPLAIN_CHOICES = (("PNEUMONIA (default)", POSITIVE), ("NORMAL (on request)", NEGATIVE))


def _small(label: QLabel, grey: bool = True) -> QLabel:
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.9)
    label.setFont(font)
    if grey:
        label.setStyleSheet("color: palette(placeholder-text);")
    label.setWordWrap(True)
    return label


def other_warnings(p: Prediction) -> tuple[str, ...]:
    """The warnings beside the scope's own reason (which is `warnings[0]` when not in scope)."""
    return p.warnings if p.scope == IN_SCOPE else p.warnings[1:]


def needs_caution(p: Prediction) -> bool:
    """Not assessable, or with a warning other than "near the domain edge": shown, but not as a finding."""
    return not p.in_domain or bool(other_warnings(p))


def badge_of(p: Prediction) -> tuple[str, str]:
    """(badge kind, badge text) for a prediction."""
    look = look_of(p.label, p.scope, bool(other_warnings(p)))
    return look.kind, look.badge


def decision_sentence(p: Prediction) -> str:
    if p.scope == NOT_XRAY:
        return "No probability is given: the model reads chest X-rays only."
    if p.scope == OUTSIDE_POPULATION:
        return "Not assessable for this population: do not rely on this probability."
    relation = "at or above" if p.probability >= p.threshold else "below"
    decision = f"{probability_text(p.probability)} is {relation} the threshold {threshold_text(p.threshold)} \u2192 {p.label}."
    return decision[0].upper() + decision[1:]  # any warning is in the box just above


def status_line(name: str, p: Prediction) -> str:
    """The status bar's line for a result: the badge's words, the number (if any) and the warnings' count."""
    number = "" if p.scope == NOT_XRAY else (
        f" \u00b7 probability of pneumonia {probability_text(p.probability)} (threshold {threshold_text(p.threshold)})"
        if p.in_domain else f" \u00b7 probability {probability_text(p.probability)}, not reliable")
    return f"{name}: {badge_of(p)[1]}{number}" + (f" \u00b7 {len(p.warnings)} warning(s)" if p.warnings else "")


def model_input_sentence(clahe: bool) -> str:
    return f"Model input {'with' if clahe else 'without'} CLAHE, as trained."


class PredictionPanel(QWidget):
    opacity_changed = Signal(float)
    explained_class_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(280)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(4)

        self.file_label = ElidedLabel("No image open")
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
        self.calibration_label = _small(QLabel(CALIBRATED_FOR))
        self.calibration_label.setToolTip("What the probability means: it is calibrated on the validation films of "
                                          "the hospital the model was trained at, or on a site's own films")
        result.addWidget(self.calibration_label)
        layout.addWidget(self.result_box)

        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet(
            "QLabel { background: #fdecea; color: #5f1010; border: 1px solid #c62828; border-radius: 4px; padding: 5px; }")
        layout.addWidget(self.error_label)

        self.model_input_label = _small(QLabel(""), grey=False)
        self.view_label = _small(QLabel(""))  # always shown, so toggling CLAHE never moves the panel
        layout.addWidget(self.model_input_label)
        layout.addWidget(self.view_label)

        # Grad-CAM -------------------------------------------------------------------------------
        self.gradcam_group = QGroupBox("Grad-CAM heat map")
        grid = QGridLayout(self.gradcam_group)
        grid.setContentsMargins(8, 6, 8, 6)
        grid.setVerticalSpacing(4)
        self.gradcam_check = QCheckBox("Show heat map over the image")
        self.gradcam_check.setToolTip("Colour the image where the evidence lies (Ctrl+G)")
        grid.addWidget(self.gradcam_check, 0, 0, 1, 3)
        explain_label = QLabel("E&xplain")
        grid.addWidget(explain_label, 1, 0)
        self.class_combo = QComboBox()
        for text, data in EXPLAIN_CHOICES:
            self.class_combo.addItem(text, data)
        self.class_combo.setToolTip("Which class the heat map explains: evidence for PNEUMONIA (red scale, the "
                                    "default for every image) or, on request, for NORMAL (green scale)")
        explain_label.setBuddy(self.class_combo)
        grid.addWidget(self.class_combo, 1, 1, 1, 2)
        opacity_label = QLabel("&Opacity")
        grid.addWidget(opacity_label, 2, 0)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setSingleStep(5)
        self.opacity_slider.setPageStep(10)
        self.opacity_slider.setValue(40)
        self.opacity_slider.setAccessibleName("Heat map opacity")
        self.opacity_slider.setToolTip("How strongly the heat map covers the image ([ and ] step it)")
        opacity_label.setBuddy(self.opacity_slider)
        self.opacity_value = QLabel("40 %")
        self.opacity_value.setMinimumWidth(40)
        grid.addWidget(self.opacity_slider, 2, 1)
        grid.addWidget(self.opacity_value, 2, 2)
        self.legend = ColourLegend()
        self.legend.setToolTip("The heat map's colour scale: clear below its floor, top colour at the reference")
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
        """POSITIVE (the default) or NEGATIVE."""
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
        for widget in (self.caption, self.probability_label, self.bar):
            widget.show()
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
        if p.scope == NOT_XRAY:  # no number at all: a photograph has no probability of pneumonia
            for widget in (self.probability_label, self.bar):
                widget.hide()
        elif caution:
            self.bar.setVisible(p.in_domain)  # not assessable: nothing to hold against the threshold
            self.probability_label.setFont(self._small_font)
            self.probability_label.setStyleSheet("color: palette(placeholder-text);")
            self.probability_label.setText(f"Probability of pneumonia {probability_with_percent(p.probability)}"
                                           " \u2014 not a reliable result")
        else:
            self.probability_label.setFont(self._big_font)
            self.probability_label.setStyleSheet("")
            self.probability_label.setText(probability_with_percent(p.probability))
        self.bar.set_value(p.probability, p.threshold, "" if caution else p.label)
        self.decision_label.setText(decision_sentence(p))
        self.calibration_label.setVisible(p.scope != NOT_XRAY)
        self.result_box.show()
        self.model_input_label.setText(model_input_sentence(p.clahe))
        self.model_input_label.show()
        self.show_explanation_note(explanation)
        self.set_gradcam_enabled(True)

    def show_explanation_note(self, explanation: Explanation) -> None:
        normal = explanation.explained_class == NEGATIVE
        note = ("Evidence for NORMAL, on request: not a finding." if normal
                else "Evidence for PNEUMONIA, whatever the label.")
        if explanation.empty:
            note += " No region supports this class: the map is empty."
        self.legend.set_scale(explanation.explained_class, "reference" if explanation.reference else "image max")
        self.legend.setToolTip(scale_description(explanation.reference, explanation.explained_class))
        self.gradcam_note.setText(note)
        # the plain default needs no words: the legend and the caption on the image say it
        self.gradcam_note.setVisible(normal or explanation.empty)

    def set_site(self, description: str) -> None:
        """`description`: the active site calibration (`SiteCalibration.describe()`), "" for the model card's."""
        self.calibration_label.setText(f"Site calibration: {description}." if description else CALIBRATED_FOR)

    def note_heat_hidden(self) -> None:
        """Said when the window keeps the heat map off for a result that must not look like a finding."""
        self.gradcam_note.setText(self.gradcam_note.text() + " Off for this result: tick the box to see it.")
        self.gradcam_note.show()

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
        self.view_label.setText("View: CLAHE, for your eyes only (never changes the result)." if enabled
                                else "View: as loaded (never changes the result).")

    def set_model_text(self, text: str) -> None:
        self.model_label.setText(text)
