"""Site calibration: the temperature, logit offset and threshold refitted on a site's own labelled films.

The model's ranking travels to another hospital better than its operating point and its probabilities
do (2.0.0 on the official test split: AUC 0.978, but specificity 0.77 and ECE 0.13 at the validation
threshold). A site file (`pneumoscan-cli calibrate`) holds the three numbers fitted on the site's
sample, bound to one model by its sha256 and protected by a checksum of its own content, so an edited,
truncated or foreign file is refused rather than silently changing what decides a label.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import ModelError, OutputError
from app.core.io.outputs import check_writable, refuse_inputs

SITE_KIND = "pneumoscan-site-calibration"
SITE_SCHEMA = 1
MIN_PER_CLASS = 20  # fewer labelled films of either class than this cannot set a threshold


def _checksum(content: dict[str, Any]) -> str:
    canonical = json.dumps({k: v for k, v in content.items() if k != "checksum"}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, np.float64), -60.0, 60.0)))


def calibrated(logits: np.ndarray | float, temperature: float, offset: float = 0.0) -> np.ndarray:
    """P(pneumonia) at full precision: sigmoid((logit + offset) / temperature), the model card's (offset 0) or a site's."""
    return sigmoid((np.asarray(logits, np.float64) + offset) / temperature)


@dataclass(frozen=True)
class SiteCalibration:
    """What replaces the model card's temperature and threshold for one site."""

    name: str
    model_sha256: str  # the full sha256 of the model file (the card's `sha256`)
    temperature: float
    offset: float  # added to the model's logit before the temperature
    threshold: float
    created: str = ""  # ISO date
    counts: dict[str, int] = field(default_factory=dict)  # NORMAL, PNEUMONIA, left_out (outside scope)
    min_sensitivity: float = 0.95
    figures: dict[str, Any] = field(default_factory=dict)  # before/after metrics on the sample
    sha256: str = ""  # of the file it was read from (recorded in every CSV row)

    def probabilities(self, logits: np.ndarray | float) -> np.ndarray:
        return calibrated(logits, self.temperature, self.offset)

    def describe(self) -> str:
        """"calibrated for NAME on N images (DATE)", as the panel, About and the CLI say it."""
        n = int(self.counts.get("NORMAL", 0)) + int(self.counts.get("PNEUMONIA", 0))
        return f"calibrated for {self.name} on {n} images ({self.created[:10] or 'undated'})"

    def to_json(self) -> dict[str, Any]:
        content: dict[str, Any] = {
            "kind": SITE_KIND, "schema": SITE_SCHEMA, "name": self.name, "model_sha256": self.model_sha256,
            "created": self.created, "counts": dict(self.counts), "temperature": self.temperature,
            "offset": self.offset, "threshold": self.threshold, "min_sensitivity": self.min_sensitivity,
            "figures": self.figures,
        }
        return content | {"checksum": _checksum(content)}

    def encode(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2) + "\n").encode("utf-8")

    @classmethod
    def load(cls, path: Path, model_sha256: str | None = None) -> SiteCalibration:
        """Read and verify a site file; `model_sha256`: refuse a file made for another model."""
        path = Path(path)
        try:
            raw = path.read_bytes()
            data = json.loads(raw.decode("utf-8-sig"))
        except FileNotFoundError:
            raise ModelError(f"Site calibration not found: {path}") from None
        except OSError as exc:
            raise ModelError(f"Cannot read the site calibration {path} ({exc.strerror or exc}).") from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ModelError(f"{path} is not a site calibration file (not valid JSON: truncated or damaged?).") from None
        if not isinstance(data, dict) or data.get("kind") != SITE_KIND:
            raise ModelError(f"{path} is not a site calibration file (made by pneumoscan-cli calibrate).")
        if data.get("schema") != SITE_SCHEMA:
            raise ModelError(f"{path} has site calibration schema {data.get('schema')!r}; this PneumoScan reads {SITE_SCHEMA}.")
        if data.get("checksum") != _checksum(data):
            raise ModelError(f"{path} was edited or damaged after calibration (its checksum does not match): "
                             "run pneumoscan-cli calibrate again.")
        try:
            site = cls(name=str(data["name"]), model_sha256=str(data["model_sha256"]),
                       temperature=float(data["temperature"]), offset=float(data["offset"]),
                       threshold=float(data["threshold"]), created=str(data.get("created", "")),
                       counts={str(k): int(v) for k, v in dict(data.get("counts", {})).items()},
                       min_sensitivity=float(data.get("min_sensitivity", 0.95)), figures=dict(data.get("figures", {})),
                       sha256=hashlib.sha256(raw).hexdigest())
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{path} is not a complete site calibration ({exc}).") from None
        if not (site.temperature > 0 and math.isfinite(site.offset) and 0.0 <= site.threshold <= 1.0):
            raise ModelError(f"{path} holds impossible values (temperature {site.temperature}, threshold {site.threshold}).")
        if model_sha256 is not None and site.model_sha256 != model_sha256:
            raise ModelError(f"{path} was made for another model (sha256 {site.model_sha256[:12]}…, this model "
                             f"{model_sha256[:12]}…): calibrate this model on the site's images again.")
        return site


def fit_platt(y: np.ndarray, logits: np.ndarray, iterations: int = 100) -> tuple[float, float]:
    """(temperature, offset) maximising the likelihood of sigmoid((logit + offset) / temperature): a
    two-parameter logistic regression by Newton's method (NumPy only, so `calibrate` runs on the base install).
    Each step is halved until the likelihood does not fall: a full Newton step from far away (confident
    logits of +-18) overshoots and diverges."""
    y = np.asarray(y, np.float64)
    x = np.asarray(logits, np.float64)
    design = np.stack([x, np.ones_like(x)], axis=1)

    def loss(params: np.ndarray) -> float:  # the negative log-likelihood, stable for any logit
        z = design @ params
        return float(np.sum(np.logaddexp(0.0, z) - y * z))

    params = np.array([1.0, 0.0])
    current = loss(params)
    for _ in range(iterations):
        p = sigmoid(design @ params)
        gradient = design.T @ (p - y)
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while loss(params - scale * step) > current and scale > 1e-8:
            scale /= 2
        params = params - scale * step
        current = loss(params)
        if np.abs(scale * step).max() < 1e-10:
            break
    a, b = float(params[0]), float(params[1])
    if not (np.isfinite(a) and np.isfinite(b)) or a <= 0:
        raise ValueError("the model's scores on this sample do not rise with pneumonia: no calibration can be fitted")
    return 1.0 / a, b / a


def threshold_for_sensitivity(y: np.ndarray, p: np.ndarray, min_sensitivity: float) -> float:
    """The highest threshold (so the highest specificity) that keeps the sample's sensitivity >= the floor,
    rounded down to the 6 digits every report shows, so the films that set it stay at or above it."""
    positives = np.sort(np.asarray(p, np.float64)[np.asarray(y) == 1])[::-1]
    needed = max(1, math.ceil(min_sensitivity * len(positives) - 1e-9))
    return math.floor(float(positives[needed - 1]) * 1e6) / 1e6


def is_site_file(path: Path) -> bool:
    """Whether `path` holds a site calibration (the only kind of file `calibrate --overwrite` replaces)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8-sig")).get("kind") == SITE_KIND
    except (OSError, ValueError, AttributeError):
        return False


def check_site_output(out: Path, inputs: list[Path], overwrite: bool) -> None:
    """Refuse, before any work, a site file that would replace an input or a file `calibrate` did not write."""
    out = Path(out)
    refuse_inputs(out, inputs)
    check_writable(out)
    if out.exists() and not overwrite:
        raise OutputError(f"--out {out} already exists; add --overwrite to replace it.")
    if out.exists() and not is_site_file(out):
        raise OutputError(f"--out {out} is not a site calibration file; it is not replaced. Choose another --out.")
