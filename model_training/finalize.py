"""After training: stress-test, calibrate, choose the threshold, fit the domain check, write the model,
card and plots.

Everything here is fitted on the training split (domain statistics) or chosen on the validation
split (temperature, threshold, domain cut-off, Grad-CAM scale); nothing looks at any test data. With
`calibrate="shifted"` the temperature and the threshold are fitted on the validation images clean
and under every shift of the stress suite pooled, so they are not tuned to the easy, same-scanner case.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np

from app.core.model.keras_classifier import Classifier
from app.core.model.card import ModelCard, sha256_of
from app.core.model.domain import DomainGate
from app.core.io.collect import Decoded
from app.core.io.preprocessing import PreprocessConfig, preprocess
from app.core.progress import tracked
from app.core.resources import MODEL_FILE
from model_training.architecture import FEATURE_LAYER, LOGIT_LAYER, TARGET_LAYER
from model_training.calibration import (
    SHIFTED_THRESHOLD_RULE,
    THRESHOLD_RULE,
    choose_threshold,
    choose_threshold_under_shift,
    expected_calibration_error,
    fit_platt,
    fit_temperature,
    sigmoid,
)
from model_training.domain_fit import CUTOFF_PERCENTILE, fit_domain_gate
from model_training.metrics import compute_metrics
from model_training.phases import TrainingState
from model_training.plots import evaluation_plots, training_curves
from model_training.foreign_images import foreign_images
from model_training.scope_fit import (
    NOT_XRAY_METHOD,
    SplitFilms,
    fit_scope,
    forward,
    onnx_features,
    population_entry,
    scope_data,
)
from model_training.splits import CLASSES, Sample
from model_training.config import TrainConfig, training_folder
from model_training.shifts import stress_conditions
from model_training.stress import condition_logits, condition_metrics, summarise, write_report

log = logging.getLogger(__name__)
Split = Decoded[Sample, np.ndarray]  # a split's samples and their images, decoded once by `train`


class Calibration(NamedTuple):
    temperature: float
    offset: float  # added to the logit before the temperature; folded into the final layer's bias
    threshold: float

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        return sigmoid((logits + self.offset) / self.temperature)
DOMAIN_FILE = "domain_stats.npz"
TRAINING_DATA = (
    "Kermany, Zhang & Goldbaum (2018) pediatric chest X-rays (children aged 1-5, Guangzhou Women and Children's "
    "Medical Center, anterior-posterior), official training split resized to 224x224: {n_train} images for "
    "training and a patient-disjoint, class-stratified validation split of {n_val} images carved from it "
    "(seed {seed}). The official test split was not used."
)
GRADCAM_REFERENCE_PERCENTILE = 99.0
LICENCE = ("Training data: CC BY 4.0, Kermany et al., Mendeley Data v2, doi:10.17632/rscbjbr9sj.2; "
           "Cell 172(5):1122-1131, 2018. ImageNet MobileNetV2 weights: Apache 2.0.")


def stress_logits(classifier: Classifier, val: Split, config: PreprocessConfig, clean: np.ndarray) -> dict[str, np.ndarray]:
    """Validation logits clean (`clean`, computed once by the caller) and under every shift of the stress test."""
    keys = [f"{CLASSES[s.label]}/{Path(s.path).name}" for s in val.kept]
    infer = lambda batch: classifier.infer(batch)[0]  # noqa: E731
    out = {}
    conditions = stress_conditions()
    for condition in tracked(conditions, len(conditions), "conditions", "stress logits"):
        if condition.shift == "clean":  # as `condition_logits` gives it: the same images, the same batches
            out[condition.name] = np.asarray(clean, np.float64).reshape(-1)
        else:
            out[condition.name] = condition_logits(infer, val.images, keys, condition, config)
        log.info("stress logits: %s", condition.name)
    return out


def gradcam_reference(classifier: Classifier, val: Split, config: PreprocessConfig, positive: np.ndarray) -> float:
    """The evidence the heat map's top colour stands for: the 99th percentile of the validation images'
    Grad-CAM maxima, each for its predicted class (`positive`, in `val`'s order), so one colour means
    the same on every image."""
    peaks = []
    for gray, is_positive in zip(val.images, positive):
        evidence, _, _ = classifier.explain(preprocess(gray, config), positive=bool(is_positive))
        peaks.append(float(evidence.max()))
    return float(np.percentile(peaks, GRADCAM_REFERENCE_PERCENTILE))


def git_commit() -> str:
    """The commit the training code came from ("unknown" outside a git checkout)."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                cwd=Path(__file__).resolve().parent)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "model_training", "app/core"], capture_output=True,
                               text=True, timeout=10, cwd=Path(__file__).resolve().parent).stdout.strip()
        return result.stdout.strip() + ("+local-changes" if dirty else "") if result.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def fitted_temperature(y: np.ndarray, logits: np.ndarray) -> float:
    """Temperature by maximum likelihood, kept only if it lowers the ECE (else 1)."""
    temperature = fit_temperature(y, logits)
    if expected_calibration_error(y, sigmoid(logits / temperature)) >= expected_calibration_error(y, sigmoid(logits)):
        return 1.0
    return temperature


def calibrations(y: np.ndarray, clean: np.ndarray, per_condition: dict[str, np.ndarray]) -> dict[str, Calibration]:
    """`clean`: 1.0.0's temperature and threshold from clean validation alone. `shifted`: temperature and
    logit offset fitted on clean + shifted validation pooled, threshold by the rule under shift."""
    t_clean = fitted_temperature(y, clean)
    pooled_y = np.concatenate([y] * len(per_condition))
    pooled = np.concatenate(list(per_condition.values()))
    t_shift, offset = fit_platt(pooled_y, pooled)
    return {
        "clean": Calibration(t_clean, 0.0, choose_threshold(y, sigmoid(clean / t_clean))),
        "shifted": Calibration(t_shift, offset, choose_threshold_under_shift(
            y, sigmoid((clean + offset) / t_shift), pooled_y, sigmoid((pooled + offset) / t_shift))),
    }


def fold_offset(model: keras.Model, offset: float) -> None:
    """Add the calibration offset to the logit layer's bias: the saved model then gives calibrated logits."""
    layer = model.get_layer(LOGIT_LAYER)
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel, bias + np.float32(offset)])


class Calibrated(NamedTuple):
    """The operating point chosen on validation and what it gives there, clean and under every shift."""

    temperature: float
    threshold: float
    probabilities: np.ndarray  # calibrated, of the clean validation films
    metrics: dict
    stress: dict
    robustness: dict
    alternatives: dict  # what either calibration choice gives on the same logits (docs/training.md's ablation)


def calibrate(model: keras.Model, choice: str, y_val: np.ndarray, val_logits: np.ndarray,
              per_condition: dict[str, np.ndarray]) -> Calibrated:
    """Fit both calibrations, keep `choice`, fold its offset into the model's final bias, and score it."""
    choices = calibrations(y_val, val_logits, per_condition)
    alternatives = {
        name: {"temperature": c.temperature, "offset": c.offset, "threshold": c.threshold,
               "clean": compute_metrics(y_val, c.probabilities(val_logits), c.threshold),
               "stress": summarise({k: condition_metrics(y_val, v + c.offset, c.temperature, c.threshold)
                                    for k, v in per_condition.items()})}
        for name, c in choices.items()
    }
    ece_before = expected_calibration_error(y_val, sigmoid(val_logits))
    temperature, offset, threshold = choices[choice]
    fold_offset(model, offset)
    probabilities = sigmoid((val_logits + offset) / temperature)
    metrics = compute_metrics(y_val, probabilities, threshold)
    metrics["ece_before_calibration"] = ece_before
    metrics["logit_offset"] = offset  # already in the saved model's final bias
    stress = {name: condition_metrics(y_val, logits + offset, temperature, threshold) for name, logits in per_condition.items()}
    robustness = summarise(stress)
    log.info("temperature %.3f, threshold %.4f (%s calibration); clean ECE %.4f; "
             "worst-shift specificity %.3f (%s), mean ECE over shifts %.4f", temperature, threshold, choice,
             metrics["ece"], robustness["worst_shift_specificity"], robustness["worst_shift"],
             robustness["mean_ece_over_shifts"])
    return Calibrated(temperature, threshold, probabilities, metrics, stress, robustness, alternatives)


def fit_population_check(classifier: Classifier, config: TrainConfig, preprocessing: PreprocessConfig, gate: DomainGate,
                         train_split: Split, val_split: Split, train_features: np.ndarray,
                         val_features: np.ndarray) -> tuple[dict, dict]:
    """With `--outside`: the scope check's population entry and the domain entry's not-an-X-ray cut-off."""
    if config.outside is None:
        return {}, {}
    data = scope_data(training_folder(config.data), [Path(s.path) for s in train_split.kept],
                      [Path(s.path) for s in val_split.kept], config.outside, config.full_resolution)
    films = SplitFilms(train_split.images, val_split.images, train_features, val_features)
    fitted = fit_scope(onnx_features(classifier.infer, preprocessing), gate, data, preprocessing.input_size,
                       [image.pixels for image in foreign_images().values()], log.info, films)
    return population_entry(fitted, config.out), {"not_xray_cutoff": fitted.not_xray_cutoff, "not_xray_method": NOT_XRAY_METHOD}


def save_inference_model(model: keras.Model, path: Path) -> None:
    """The model without its optimizer (clone_model would keep it): ~10 MB instead of ~30."""
    final = keras.Model.from_config(model.get_config())
    final.set_weights(model.get_weights())
    final.save(path)


def write_reports(config: TrainConfig, state: TrainingState, y_val: np.ndarray, chosen: Calibrated) -> None:
    """Training curves, validation plots, metrics_val.json and the stress report, beside the model."""
    out = config.out
    history = {name: state.phase(name)["history"] for name in ("frozen", "finetune")}
    training_curves(history, out / "training_curves.png", config.fine_tune_at)
    evaluation_plots(y_val, chosen.probabilities, chosen.metrics, out, "validation split")
    (out / "metrics_val.json").write_text(json.dumps(chosen.metrics | {"calibration_alternatives": chosen.alternatives},
                                                     indent=2) + "\n")
    report = {"seed": 0, "threshold": chosen.threshold, "temperature": chosen.temperature, "n": len(y_val),
              "n_normal": int((y_val == 0).sum()), "n_pneumonia": int((y_val == 1).sum()), "errors": {},
              "model_version": config.version, "summary": chosen.robustness, "per_condition": chosen.stress}
    write_report(report, out, f"{config.version}")


def model_card(config: TrainConfig, state: TrainingState, preprocessing: PreprocessConfig, chosen: Calibrated,
               gate: DomainGate, domain_extra: dict, population: dict, reference: float, n_train: int, n_val: int,
               started: float) -> ModelCard:
    """The card of the files just written in `config.out`, their sha256s included."""
    out = config.out
    rule = SHIFTED_THRESHOLD_RULE if config.calibrate == "shifted" else THRESHOLD_RULE + " (on temperature-calibrated probabilities)"
    return ModelCard(
        name="PneumoScan MobileNetV2",
        version=config.version,
        model_file=MODEL_FILE,
        sha256=sha256_of(out / MODEL_FILE),
        created=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        preprocessing=preprocessing,
        threshold=chosen.threshold,
        threshold_rule=rule,
        temperature=chosen.temperature,
        target_layer=TARGET_LAYER,
        feature_layer=FEATURE_LAYER,
        validation_metrics=chosen.metrics,
        training_data=TRAINING_DATA.format(n_train=n_train, n_val=n_val, seed=config.split_seed),
        licence=LICENCE,
        command=config.command,
        training_time_s=round(float(state.data.get("elapsed_s", 0.0)), 1),
        domain={
            "file": DOMAIN_FILE,
            "sha256": sha256_of(out / DOMAIN_FILE),
            "cutoff": gate.cutoff,
            "method": f"Mahalanobis distance of the '{FEATURE_LAYER}' vector from the training split's mean "
                      f"(Ledoit-Wolf shrunk covariance); cut-off = {CUTOFF_PERCENTILE}th percentile on validation",
        } | domain_extra,
        population=population,
        gradcam_reference=reference,
        recipe=config.recipe(),
        robustness={k: v for k, v in chosen.robustness.items() if k != "clean"} | {"file": "stress.json"},
        git_commit=git_commit(),
        phase_times_s=dict(state.data.get("phase_times_s", {})) | {"finalize": round(time.monotonic() - started, 1)},
    )


def finalize(model: keras.Model, config: TrainConfig, state: TrainingState, train_split: Split, val_split: Split,
             preprocessing: PreprocessConfig) -> Path:
    """Write `<out>/pneumoscan_mobilenetv2.keras` with its card, domain statistics, stress report and plots.
    `train_split` / `val_split`: the run's images as decoded once, which every pass here reuses."""
    out: Path = config.out
    started = time.monotonic()
    classifier = Classifier(model, TARGET_LAYER, FEATURE_LAYER)
    y_val = np.array([s.label for s in val_split.kept])

    # One clean pass over each split, one over every shift of validation: all later steps reuse them.
    val_logits, val_features = forward(classifier.infer, val_split.images, preprocessing)
    _, train_features = forward(classifier.infer, train_split.images, preprocessing)
    per_condition = stress_logits(classifier, val_split, preprocessing, val_logits)
    np.savez_compressed(out / "stress_logits_val.npz", y=y_val, **per_condition)  # to study other rules offline

    chosen = calibrate(model, config.calibrate, y_val, val_logits, per_condition)
    gate, val_scores = fit_domain_gate(train_features, val_features)
    gate.save(out / DOMAIN_FILE)
    chosen.metrics["in_domain_share"] = float(np.mean(gate.in_domain(val_scores)))
    reference = gradcam_reference(classifier, val_split, preprocessing, chosen.probabilities >= chosen.threshold)
    population, domain_extra = fit_population_check(classifier, config, preprocessing, gate, train_split, val_split,
                                                    train_features, val_features)

    model_path = out / MODEL_FILE
    save_inference_model(model, model_path)
    write_reports(config, state, y_val, chosen)
    model_card(config, state, preprocessing, chosen, gate, domain_extra, population, reference,
               len(train_split.kept), len(val_split.kept), started).save(out)
    log.info("validation: %s", {k: v for k, v in chosen.metrics.items() if k != "confusion_matrix"})
    return model_path
