"""The engine's front door: a verified model plus its card, turning images into predictions.

`Screener` is what the GUI, the command line, the folder scan and the packaged app's self-test call.
It applies the model card's preprocessing, temperature, threshold and domain check, so no caller can
get those wrong. It runs a `ModelBundle` (`app.core.model.bundle`): the card and the files, read and
verified once. `prepare_image` is the preparation alone, for whoever decodes without the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from app.core.io.images import LoadedImage, load_model_image
from app.core.io.preprocessing import PreprocessConfig, preprocess
from app.core.io.quality import quality_warnings
from app.core.labels import NEGATIVE, POSITIVE
from app.core.model.bundle import ModelBundle
from app.core.model.card import ModelCard
from app.core.model.scope import ANSWERED, IN_SCOPE, ScopeCheck
from app.core.model.site import SiteCalibration, calibrated
PROBABILITY_DIGITS = 6  # decimals of the probability and threshold that the CSV and the CLI report


@dataclass(frozen=True)
class Prediction:
    """One image's result; `label` is the model's answer at the threshold, whatever the warnings."""

    probability: float
    label: str
    threshold: float
    logit: float
    model_version: str
    clahe: bool  # whether CLAHE was part of the model's input
    domain_score: float | None = None
    scope: str = IN_SCOPE  # one of `app.core.model.scope.SCOPES`
    population_score: float | None = None
    warnings: tuple[str, ...] = ()
    site_sha256: str = ""  # of the site calibration that set probability and threshold ("" for the model card's)

    @property
    def status(self) -> str:
        return "warning" if self.warnings else "ok"

    @property
    def in_domain(self) -> bool:
        """Whether the label stands: in scope, or near the domain edge (with a warning)."""
        return self.scope in ANSWERED

    @property
    def display_label(self) -> str:
        """What a reader should see: the label, unless the model may not answer for the image."""
        return self.label if self.in_domain else self.scope


@dataclass(frozen=True)
class Prepared:
    """An image made ready for the model (thread-safe to build: NumPy and OpenCV only)."""

    tensor: np.ndarray
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Explanation:
    prediction: Prediction
    cam: np.ndarray  # float32 in [0, 1] (divided by its own maximum): the coarse map, or one already at `shape`
    explained_class: str
    empty: bool  # no region supports the class (the map is all zero)
    evidence: np.ndarray | None = None  # coarse (h, w) Grad-CAM in logit units, before any normalisation
    reference: float | None = None  # the card's fixed evidence scale (`gradcam_reference`), if it has one
    shape: tuple[int, int] | None = None  # (H, W) of the picture the map belongs to; None: the cam's own

    @cached_property
    def heatmap(self) -> np.ndarray:
        """The map at the picture's size, made on first use: the GUI colours `evidence` itself, and a
        full-size float map of a 20-megapixel X-ray costs tens of milliseconds on the drop path."""
        from app.core.explain.gradcam import upsample

        return self.cam if self.shape in (None, self.cam.shape) else upsample(self.cam, self.shape)


def preprocessing_of(card: ModelCard, clahe: bool | None = None) -> PreprocessConfig:
    """The model card's steps; `clahe` forces CLAHE on or off (the scan's --clahe on|off)."""
    return card.preprocessing if clahe is None else card.preprocessing.with_clahe(clahe)


def prepare_image(card: ModelCard, image: LoadedImage, clahe: bool | None = None) -> Prepared:
    """`image` made ready for the model `card` describes, with its quality warnings (no model needed)."""
    config = preprocessing_of(card, clahe)
    warnings = quality_warnings(image)
    if config.clahe != card.preprocessing.clahe:
        trained = "with" if card.preprocessing.clahe else "without"
        warnings.append(f"CLAHE forced {'on' if config.clahe else 'off'}; the model was trained {trained} it.")
    return Prepared(preprocess(image.pixels, config), tuple(warnings))


class Screener:
    """Runs a verified model on its backend (ONNX Runtime, or TensorFlow for `keras`); then predicts quickly."""

    def __init__(self, model: ModelBundle | Path | None = None, backend: str | None = None, site: Path | None = None) -> None:
        """`model`: an opened `ModelBundle`, or a model path (None: the bundled model) opened here on `backend`
        ("onnx", "keras" or "auto"/None, see `app.core.model.backend.choose_backend`; ignored with a bundle).
        `site`: a site calibration file (`pneumoscan-cli calibrate`) for this model, refused before the model
        loads if it was made for another one."""
        bundle = model if isinstance(model, ModelBundle) else ModelBundle.open(model, backend)
        self.model_path = bundle.model_path
        self.card: ModelCard = bundle.card
        self.site: SiteCalibration | None = SiteCalibration.load(site, self.card.sha256) if site else None
        self.backend = bundle.open_runtime()
        self.scope: ScopeCheck | None = bundle.scope_check()

    @property
    def version(self) -> str:
        return self.card.version

    def preprocessing(self, clahe: bool | None = None) -> PreprocessConfig:
        """The model card's steps; `clahe` forces CLAHE on or off (the scan's --clahe on|off)."""
        return preprocessing_of(self.card, clahe)

    def prepare(self, image: LoadedImage, clahe: bool | None = None) -> Prepared:
        return prepare_image(self.card, image, clahe)

    def predict_prepared(self, prepared: Sequence[Prepared], clahe: bool | None = None) -> list[Prediction]:
        if not prepared:
            return []
        logits, features = self.backend.infer(np.stack([p.tensor for p in prepared]))
        return [self._prediction(float(logit), f, p.warnings, clahe) for logit, f, p in zip(logits, features, prepared)]

    def predict(self, image: LoadedImage, clahe: bool | None = None) -> Prediction:
        return self.predict_prepared([self.prepare(image, clahe)], clahe)[0]

    def predict_file(self, path: str | Path, clahe: bool | None = None) -> Prediction:
        """Scores the model's copy of the file (`load_model_image`), as the GUI, `predict` and `scan` do."""
        return self.predict(load_model_image(path, self.card.input_size), clahe)

    def explain(self, image: LoadedImage, clahe: bool | None = None, explained_class: str | None = POSITIVE,
                shape: tuple[int, int] | None = None) -> Explanation:
        """Prediction and Grad-CAM of `image` from one pass (the keras backend explaining a NORMAL result: two).

        `explained_class` None: the predicted class. `shape`: the (H, W) of the picture the map is for, when
        `image` is the model's reduced copy of it (`load_model_image`); default the image's own.
        """
        prepared = self.prepare(image, clahe)
        if explained_class is None:
            evidence, positive, logit, features = self.backend.explain_predicted(prepared.tensor, self._is_positive)
        else:
            positive = explained_class == POSITIVE
            evidence, logit, features = self.backend.explain(prepared.tensor, positive)
        prediction = self._prediction(logit, features, prepared.warnings, clahe)
        peak = float(evidence.max())
        cam = evidence / peak if peak > 0 else np.zeros_like(evidence)
        return Explanation(prediction, cam.astype(np.float32), POSITIVE if positive else NEGATIVE, not peak > 0,
                           evidence=evidence.astype(np.float32), reference=self.card.gradcam_reference,
                           shape=tuple(shape or image.pixels.shape[:2]))

    @property
    def site_sha256(self) -> str:
        """The sha256 of the site calibration in force ("" for the model card's): every row records it."""
        return self.site.sha256 if self.site else ""

    @property
    def threshold(self) -> float:
        """The threshold in force: the site calibration's, else the model card's (rounded as reported)."""
        return round(self.site.threshold if self.site else self.card.threshold, PROBABILITY_DIGITS)

    def probabilities(self, logits: np.ndarray | float) -> np.ndarray:
        """Full-precision P(pneumonia) of logits, by the site calibration if there is one, else the model card
        (what `evaluate` computes its AUC and ECE from, where six decimals would tie saturated scores)."""
        return self.site.probabilities(logits) if self.site else calibrated(logits, self.card.temperature)

    def _probability(self, logit: float) -> float:
        # Probability and threshold rounded to the digits every report shows, so the written numbers
        # always agree with the label.
        return round(float(self.probabilities(logit)), PROBABILITY_DIGITS)

    def _is_positive(self, logit: float) -> bool:
        return self._probability(logit) >= self.threshold

    def _prediction(self, logit: float, features: np.ndarray, warnings: tuple[str, ...], clahe: bool | None) -> Prediction:
        card = self.card
        probability, threshold = self._probability(logit), self.threshold
        score = population = None
        scope = IN_SCOPE
        if self.scope is not None:
            assessment = self.scope.assess(features)
            score, population, scope = assessment.domain_score, assessment.population_score, assessment.scope
            if assessment.warning:
                warnings = (assessment.warning,) + tuple(warnings)
        return Prediction(
            probability=probability,
            label=POSITIVE if probability >= threshold else NEGATIVE,
            threshold=threshold,
            logit=logit,
            model_version=card.version,
            clahe=self.preprocessing(clahe).clahe,
            domain_score=score,
            scope=scope,
            population_score=population,
            warnings=tuple(warnings),
            site_sha256=self.site_sha256,
        )
