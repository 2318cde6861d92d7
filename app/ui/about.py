"""About: the app, the loaded model's card (what it is, how it was validated, what it was trained on)."""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from app import __version__
from app.ui.panel import DISCLAIMER


def _flatten(metrics: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            items.extend(_flatten(value, f"{name} / "))
        else:
            items.append((name, value))
    return items


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, (list, tuple)):
        if len(value) > 8:
            return f"[{len(value)} values]"
        if any(isinstance(v, (list, tuple)) for v in value):  # a matrix: one bracketed row each
            return ", ".join(f"[{_format(v)}]" for v in value)
        return ", ".join(_format(v) for v in value)
    return str(value)


def about_html(card: Any, model_error: str | None = None, model_path: str = "") -> str:
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
        ("Decision threshold", f"{card.threshold:.3f}" + (f" ({card.threshold_rule})" if card.threshold_rule else "")),
        ("Calibration", f"temperature {card.temperature:.3f}"),
        ("Input", f"{card.input_size[1]} \u00d7 {card.input_size[0]} px, grayscale, "
                  f"CLAHE {'on' if card.preprocessing.clahe else 'off'}"),
        ("Domain check", "yes" if card.domain.get("file") else "no"),
        ("File", model_path or card.model_file), ("SHA-256", card.sha256[:16] + "\u2026"),
    ]
    parts.append("<h3>Model card</h3><table cellspacing='0' cellpadding='3'>")
    parts += [f"<tr><td><b>{escape(k)}</b></td><td>{escape(str(v))}</td></tr>" for k, v in rows]
    parts.append("</table>")
    parts.append("<h3>Validation metrics</h3>")
    if card.validation_metrics.get("confusion_matrix") is not None:
        parts.append("<p>Confusion matrix rows: true NORMAL, true PNEUMONIA; columns: predicted NORMAL, "
                     "predicted PNEUMONIA.</p>")
    metrics = _flatten(card.validation_metrics or {})
    if metrics:
        parts.append("<table cellspacing='0' cellpadding='3'>")
        parts += [f"<tr><td>{escape(k)}</td><td align='right'>{escape(_format(v))}</td></tr>" for k, v in metrics]
        parts.append("</table>")
    else:
        parts.append("<p>None recorded in the model card.</p>")
    parts.append("<h3>Training data</h3>")
    parts.append(f"<p>{escape(card.training_data or 'Not recorded in the model card.')}</p>")
    parts.append("<h3>Licence</h3>")
    parts.append(f"<p>{escape(card.licence or 'Not recorded in the model card.')}</p>")
    if card.notes:
        parts.append(f"<h3>Notes</h3><p>{escape(card.notes)}</p>")
    return "\n".join(parts)


class AboutDialog(QDialog):
    def __init__(self, card: Any, model_error: str | None, model_path: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About PneumoScan")
        self.resize(620, 640)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setHtml(about_html(card, model_error, model_path))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
