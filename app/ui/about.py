"""About: the app, the loaded model's card (what it is, how it was validated, what it was trained on)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWidget

from app import __version__
from app.core.explain.colour import scale_description
from app.core.numbers import threshold_text
from app.ui.panel import CALIBRATED_FOR, DISCLAIMER
from app.ui.text_dialog import TextDialog


def model_file_run(model_path: Path, card: Any) -> Path:
    """The file the backend runs: the card's ONNX export when it is there, not the .keras beside it."""
    onnx = model_path.parent / str(card.onnx["file"]) if card is not None and card.onnx.get("file") else None
    return onnx if onnx is not None and onnx.is_file() else model_path


# Validation metrics in words; a share is shown as a percentage, a score as a number.
METRIC_NAMES: dict[str, tuple[str, bool]] = {  # key -> (name, shown as a percentage)
    "accuracy": ("Accuracy", True),
    "sensitivity": ("Sensitivity (pneumonia found)", True),
    "specificity": ("Specificity (normal films called normal)", True),
    "precision": ("Precision (flagged films that had pneumonia)", True),
    "f1": ("F1 score (sensitivity and precision together, 0 to 1)", False),
    "auc": ("Area under the ROC curve (0.5 = chance, 1 = perfect)", False),
    "average_precision": ("Average precision (0 to 1)", False),
    "brier": ("Brier score (lower is better)", False),
    "ece": ("Calibration error after temperature scaling", True),
    "ece_before_calibration": ("Calibration error before temperature scaling", True),
    "in_domain_share": ("Validation films inside the model's domain", True),
    "n": ("Validation films", False),
    "n_normal": ("of which NORMAL", False),
    "n_pneumonia": ("of which PNEUMONIA", False),
}
SHOWN_ELSEWHERE = {"threshold", "confusion_matrix", "logit_offset"}  # the offset: in the Calibration row


def metric_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """(name in words, value) for every recorded metric; unknown keys keep their own name."""
    rows = []
    for key, value in metrics.items():
        if key in SHOWN_ELSEWHERE or isinstance(value, (dict, list)):
            continue
        name, percent = METRIC_NAMES.get(key, (key.replace("_", " ").capitalize(), False))
        if isinstance(value, float) and percent:
            text = f"{value * 100:.1f} %"
        elif isinstance(value, float):
            text = f"{value:.3f}"
        else:
            text = str(value)
        rows.append((name, text))
    return rows


def confusion_text(matrix: Any) -> str:
    """[[TN, FP], [FN, TP]] in words."""
    (tn, fp), (fn, tp) = matrix
    return (f"NORMAL films: {tn} called NORMAL, {fp} flagged PNEUMONIA. "
            f"PNEUMONIA films: {tp} flagged, {fn} missed.")


def domain_text(domain: dict[str, Any]) -> str:
    if not domain.get("file"):
        return "none"
    cutoff = domain.get("cutoff")
    return ("yes: a film whose domain score exceeds "
            + (f"{float(cutoff):.1f}" if cutoff is not None else "the cut-off")
            + " (the 99.5th percentile of the validation films' scores) is reported as outside the domain")


def calibration_text(card: Any) -> str:
    offset = (card.validation_metrics or {}).get("logit_offset")
    fitted = "Platt scaling: temperature" if offset is not None else "temperature"
    text = f"{fitted} {card.temperature:.3f}" + (f", offset {float(offset):+.2f} (in the model)" if offset is not None else "")
    return f"{text}, fitted on the validation split. {CALIBRATED_FOR}"


def about_html(card: Any, model_error: str | None = None, model_path: str = "", site: str = "",
               runs: str = "") -> str:
    """`site`: the active site calibration's description ("" for none); `runs`: the file the backend runs."""
    parts = [
        f"<h2>PneumoScan {escape(__version__)}</h2>",
        "<p>Screens chest X-rays for pneumonia with a MobileNetV2 classifier and shows where its evidence "
        "lies (Grad-CAM).</p>",
        f"<p style='background:#fff3cd;color:#4d3800;padding:6px;border:1px solid #d9a400'><b>{escape(DISCLAIMER)}</b> "
        "Its output has not been validated for clinical use; a qualified reader must interpret every image.</p>",
    ]
    if card is None:
        parts.append("<h3>Model</h3>")
        status = escape(model_error) if model_error else "The model is still loading\u2026"
        parts.append(f"<p>{status}</p>")
        return "\n".join(parts)
    rows = [
        ("Name", card.name), ("Version", card.version), ("Created", card.created or "\u2014"),
        ("Decision threshold", threshold_text(card.threshold) + (f" ({card.threshold_rule})" if card.threshold_rule else "")),
        ("Calibration", calibration_text(card)),
        ("Site calibration", site or "none: the probabilities are the model card's"),
        ("Input", f"{card.input_size[1]} \u00d7 {card.input_size[0]} px, grayscale, "
                  f"CLAHE {'on' if card.preprocessing.clahe else 'off'}"),
        ("Domain check", domain_text(card.domain)),
        ("Heat map scale", scale_description(card.gradcam_reference)
         + (f" (reference {card.gradcam_reference:.3g})" if card.gradcam_reference else "")),
        ("Runs", runs or model_path or card.model_file), ("SHA-256", card.sha256[:16] + "\u2026"),
    ]
    parts.append("<h3>Model card</h3><table cellspacing='0' cellpadding='3'>")
    parts += [f"<tr><td><b>{escape(k)}</b></td><td>{escape(str(v))}</td></tr>" for k, v in rows]
    parts.append("</table>")
    parts.append("<h3>Validation metrics</h3>")
    metrics = card.validation_metrics or {}
    rows = metric_rows(metrics)
    if rows:
        parts.append(f"<p>On the validation split, at the threshold {escape(threshold_text(card.threshold))}:</p>")
        parts.append("<table cellspacing='0' cellpadding='3'>")
        parts += [f"<tr><td>{escape(k)}</td><td align='right'>{escape(v)}</td></tr>" for k, v in rows]
        parts.append("</table>")
    else:
        parts.append("<p>None recorded in the model card.</p>")
    if metrics.get("confusion_matrix") is not None:
        parts.append(f"<p>{escape(confusion_text(metrics['confusion_matrix']))}</p>")
    parts.append("<h3>Training data</h3>")
    parts.append(f"<p>{escape(card.training_data or 'Not recorded in the model card.')}</p>")
    parts.append("<h3>Licence</h3>")
    parts.append(f"<p>{escape(card.licence or 'Not recorded in the model card.')}</p>")
    if card.notes:
        parts.append(f"<h3>Notes</h3><p>{escape(card.notes)}</p>")
    return "\n".join(parts)


class AboutDialog(TextDialog):
    def __init__(self, card: Any, model_error: str | None, model_path: str = "", parent: QWidget | None = None,
                 site: str = "", runs: str = "") -> None:
        super().__init__("About PneumoScan", about_html(card, model_error, model_path, site, runs), 620, 640, parent)
