"""One scanned file as a record: the CSV row (every text cell escaped against formula injection), the
`predict --json` line, and the checks that tell a row a scan wrote from a damaged one (for `resume`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from dataclasses import dataclass
from typing import Any

from app.core.errors import describe_error
from app.core.model.card import ModelCard
from app.core.io.outputs import csv_escape, csv_unescape
from app.core.numbers import probability_text, threshold_text
from app.core.model.scope import ANSWERED, NOT_XRAY, SCOPES
from app.core.screening import NEGATIVE, POSITIVE, PROBABILITY_DIGITS, Prediction

# A row's own cells, then what binds a resume to the scan that wrote it: the site calibration, the decision
# (threshold, temperature, CLAHE: `decision_of`), the file's fingerprint when it was read, and the folder
# and recursion of the scan (`SCOPE_COLUMNS`, written by the CSV writer, the same in every row).
ROW_COLUMNS = ("path", "status", "probability", "prediction", "threshold", "model_version", "model_sha256",
               "in_domain", "scope", "domain_score", "population_score", "warning", "error",
               "site_sha256", "decision", "file_size", "file_mtime_ns")
SCOPE_COLUMNS = ("folder", "recursive")
CSV_COLUMNS = ROW_COLUMNS + SCOPE_COLUMNS
TEXT_COLUMNS = ("path", "status", "prediction", "model_version", "model_sha256", "scope", "warning", "error",
                "site_sha256", "decision")
SHA_DIGITS = 12  # of the model file's sha256 written in every row: enough to tell two models apart
WARNING_SEPARATOR = " | "


@dataclass(frozen=True)
class ScanRow:
    path: str  # relative to the scanned folder, with forward slashes
    status: str  # "ok", "warning" or "error"
    probability: float | None = None
    prediction: str = ""
    threshold: float | None = None
    model_version: str = ""
    in_domain: bool | None = None
    scope: str = ""  # one of `app.core.model.scope.SCOPES`; "" for an error row or a model without a scope check
    domain_score: float | None = None
    population_score: float | None = None
    warning: str = ""
    error: str = ""
    model_sha256: str = ""  # the first SHA_DIGITS hex digits of the model file's sha256
    site_sha256: str = ""  # the first SHA_DIGITS of the site calibration's sha256 ("" for the model card's)
    decision: str = ""  # `decision_of` the scan: what, besides the model and site, decides the label
    file_size: int | None = None  # the file's size and modification time when the scan read it
    file_mtime_ns: int | None = None

    @classmethod
    def from_prediction(cls, path: str, prediction: Prediction, model_sha256: str = "") -> ScanRow:
        """The one mapping of a prediction to a record (CSV row, `predict --json` line)."""
        return cls(
            path=path, status=prediction.status, probability=prediction.probability, prediction=prediction.label,
            threshold=prediction.threshold, model_version=prediction.model_version,
            in_domain=prediction.in_domain if prediction.domain_score is not None else None,
            scope=prediction.scope if prediction.domain_score is not None else "",
            domain_score=prediction.domain_score, population_score=prediction.population_score,
            warning=WARNING_SEPARATOR.join(prediction.warnings), model_sha256=model_sha256[:SHA_DIGITS],
            site_sha256=prediction.site_sha256[:SHA_DIGITS],
        )

    @classmethod
    def from_error(cls, path: str, exc: BaseException) -> ScanRow:
        return cls(path=path, status="error", error=" ".join(describe_error(exc).split()))  # one line per row

    @property
    def display_label(self) -> str:
        """What a reader should see: the label, unless the image is not what the model knows."""
        return self.scope if self.in_domain is False else self.prediction

    @property
    def flagged(self) -> bool:
        """Counted among "flagged PNEUMONIA": a PNEUMONIA label the model may give (never a film out of scope)."""
        return self.prediction == POSITIVE and self.in_domain is not False

    @property
    def answer(self) -> str:
        """The one-line answer of `predict` and `watch`, graded by scope: no probability for what is not a chest
        X-ray, a probability marked unreliable outside the population."""
        if self.scope == NOT_XRAY:
            return f"{NOT_XRAY}: no result (model {self.model_version})"
        probability = f"probability of pneumonia {probability_text(self.probability or 0.0)}"
        if self.in_domain is False:
            return f"{self.scope}: {probability} is not reliable (model {self.model_version})"
        return f"{self.prediction}  {probability} (threshold {threshold_text(self.threshold or 0.0)}, model {self.model_version})"

    @property
    def warnings(self) -> list[str]:
        return self.warning.split(WARNING_SEPARATOR) if self.warning else []

    def to_json(self) -> dict[str, Any]:
        """The record as `predict --json` prints it (numbers as numbers, warnings as a list)."""
        if self.status == "error":
            return {"path": self.path, "status": "error", "error": self.error}
        return {"path": self.path, "status": self.status, "probability": self.probability, "prediction": self.prediction,
                "threshold": self.threshold, "in_domain": self.in_domain, "scope": self.scope or None,
                "domain_score": self.domain_score, "population_score": self.population_score,
                "warnings": self.warnings, "model_version": self.model_version, "model_sha256": self.model_sha256}

    def to_csv(self) -> dict[str, str]:
        """The CSV cells, every text cell escaped against formula injection (`outputs.csv_escape`)."""
        def fmt(value: float | None, digits: int) -> str:
            return "" if value is None else f"{value:.{digits}f}"

        cells = {
            "path": self.path, "status": self.status, "probability": fmt(self.probability, PROBABILITY_DIGITS),
            "prediction": self.prediction, "threshold": fmt(self.threshold, PROBABILITY_DIGITS),
            "model_version": self.model_version, "model_sha256": self.model_sha256,
            "in_domain": "" if self.in_domain is None else str(self.in_domain).lower(),
            "scope": self.scope, "domain_score": fmt(self.domain_score, 3),
            "population_score": fmt(self.population_score, 3), "warning": self.warning, "error": self.error,
            "site_sha256": self.site_sha256, "decision": self.decision,
            "file_size": "" if self.file_size is None else str(self.file_size),
            "file_mtime_ns": "" if self.file_mtime_ns is None else str(self.file_mtime_ns),
        }
        return {key: csv_escape(value) if key in TEXT_COLUMNS else value for key, value in cells.items()}

    @classmethod
    def from_csv(cls, row: dict[str, str]) -> ScanRow:
        """The inverse of `to_csv` (numbers as written, to 6 decimals); `ValueError` when a cell is malformed."""
        text = {key: csv_unescape(row[key]) if key in TEXT_COLUMNS else row[key] for key in ROW_COLUMNS}

        def number(cell: str) -> float | None:
            value = float(cell) if cell else None
            if value is not None and not math.isfinite(value):
                raise ValueError(f"not a finite number: {cell}")
            return value

        def whole(cell: str) -> int | None:
            return int(cell) if cell else None

        if text["in_domain"] not in ("true", "false", ""):
            raise ValueError(f"in_domain {text['in_domain']!r}")
        return cls(
            path=text["path"], status=text["status"], probability=number(text["probability"]),
            prediction=text["prediction"], threshold=number(text["threshold"]), model_version=text["model_version"],
            in_domain={"true": True, "false": False}.get(text["in_domain"]), scope=text["scope"],
            domain_score=number(text["domain_score"]), population_score=number(text["population_score"]),
            warning=text["warning"], error=text["error"], model_sha256=text["model_sha256"],
            site_sha256=text["site_sha256"], decision=text["decision"], file_size=whole(text["file_size"]),
            file_mtime_ns=whole(text["file_mtime_ns"]),
        )

    @property
    def fingerprint(self) -> tuple[int, int] | None:
        """(size, mtime_ns) of the file when it was read; None when not recorded."""
        if self.file_size is None or self.file_mtime_ns is None:
            return None
        return self.file_size, self.file_mtime_ns

    def problem(self) -> str:
        """Why this row cannot have been written by a scan ("" when it is well-formed)."""
        if not self.path:
            return "no path"
        if self.status == "error":
            return "" if self.error and self.probability is None and not self.prediction else "an incomplete error row"
        if self.status not in ("ok", "warning"):
            return f"status {self.status!r}"
        if self.probability is None or self.threshold is None or not 0 <= self.probability <= 1:
            return "no probability in [0, 1] or no threshold"
        if self.prediction != (POSITIVE if self.probability >= self.threshold else NEGATIVE):
            return f"prediction {self.prediction!r} does not follow from its probability and threshold"
        if (self.status == "warning") != bool(self.warning) or self.error:
            return "status, warning and error disagree"
        if not self.model_version or not self.model_sha256:
            return "no model version or sha256"
        if self.scope and (self.scope not in SCOPES or (self.scope in ANSWERED) != self.in_domain):
            return f"scope {self.scope!r} and in_domain disagree"
        return ""


def decision_of(card: ModelCard, clahe: bool | None) -> str:
    """What decides a label besides the model file and a site calibration: the card's threshold and
    temperature and whether CLAHE runs. Rows of two decisions never share a CSV (`--resume` refuses)."""
    on = card.preprocessing.clahe if clahe is None else clahe
    return f"threshold {card.threshold:.6f}; temperature {card.temperature:.6f}; CLAHE {'on' if on else 'off'}"


def file_fingerprint(path: Path) -> tuple[int, int] | None:
    """(size, mtime_ns) of a regular file now; None when it cannot be read (its row is an error row)."""
    try:
        stat = os.stat(path)
    except (OSError, ValueError):
        return None
    return stat.st_size, stat.st_mtime_ns
