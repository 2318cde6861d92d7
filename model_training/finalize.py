"""After training: calibrate, choose the threshold, fit the domain check, write the model, card and plots.

Everything here is fitted on the training split (domain statistics) or chosen on the validation
split (temperature, threshold, domain cut-off); nothing looks at any test data.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

import keras
import numpy as np

from app.core.classifier import Classifier
from app.core.model_card import ModelCard, sha256_of
from app.core.preprocessing import PreprocessConfig
from app.core.resources import MODEL_FILE
from model_training.architecture import FEATURE_LAYER, TARGET_LAYER
from model_training.calibration import THRESHOLD_RULE, choose_threshold, expected_calibration_error, fit_temperature, sigmoid
from model_training.domain_fit import CUTOFF_PERCENTILE, fit_domain_gate
from model_training.metrics import compute_metrics
from model_training.phases import TrainingState
from model_training.pipeline import make_dataset
from model_training.plots import evaluation_plots, training_curves
from model_training.splits import Sample
from model_training.train import TrainConfig

log = logging.getLogger(__name__)
DOMAIN_FILE = "domain_stats.npz"
TRAINING_DATA = (
    "Kermany, Zhang & Goldbaum (2018) pediatric chest X-rays (children aged 1-5, Guangzhou Women and Children's "
    "Medical Center, anterior-posterior), official training split resized to 224x224: {n_train} images for "
    "training and a patient-disjoint, class-stratified validation split of {n_val} images carved from it "
    "(seed {seed}). The official test split was not used."
)
LICENCE = ("Training data: CC BY 4.0, Kermany et al., Mendeley Data v2, doi:10.17632/rscbjbr9sj.2; "
           "Cell 172(5):1122-1131, 2018. ImageNet MobileNetV2 weights: Apache 2.0.")


def logits_and_features(classifier: Classifier, samples: list[Sample], config: PreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    """Un-augmented predictions over `samples`, through the same tf.data pipeline as training."""
    logits, features = [], []
    for images, _ in make_dataset(samples, config, batch_size=64):
        logit, feature = classifier.infer(images.numpy())
        logits.append(logit)
        features.append(feature)
    return np.concatenate(logits), np.concatenate(features)


def finalize(model: keras.Model, config: TrainConfig, state: TrainingState, train: list[Sample], val: list[Sample],
             preprocessing: PreprocessConfig) -> Path:
    """Write `<out>/pneumoscan_mobilenetv2.keras` with its card, domain statistics and plots; return the model path."""
    out: Path = config.out
    classifier = Classifier(model, TARGET_LAYER, FEATURE_LAYER)
    y_val = np.array([s.label for s in val])
    val_logits, val_features = logits_and_features(classifier, val, preprocessing)
    _, train_features = logits_and_features(classifier, train, preprocessing)

    raw = sigmoid(val_logits)
    temperature = fit_temperature(y_val, val_logits)
    probabilities = sigmoid(val_logits / temperature)
    ece_raw = expected_calibration_error(y_val, raw)
    if expected_calibration_error(y_val, probabilities) >= ece_raw:  # keep the temperature only if it helps
        temperature, probabilities = 1.0, raw
    threshold = choose_threshold(y_val, probabilities)
    metrics = compute_metrics(y_val, probabilities, threshold)
    metrics["ece_before_calibration"] = ece_raw
    log.info("temperature %.3f (ECE %.4f -> %.4f), threshold %.4f", temperature, ece_raw, metrics["ece"], threshold)

    gate, val_scores = fit_domain_gate(train_features, val_features)
    gate.save(out / DOMAIN_FILE)
    metrics["in_domain_share"] = float(np.mean(gate.in_domain(val_scores)))

    model_path = out / MODEL_FILE
    final = keras.Model.from_config(model.get_config())  # uncompiled (clone_model would keep the optimizer): ~10 MB
    final.set_weights(model.get_weights())
    final.save(model_path)

    history = {name: state.phase(name)["history"] for name in ("frozen", "finetune")}
    training_curves(history, out / "training_curves.png")
    evaluation_plots(y_val, probabilities, metrics, out, "validation split")
    (out / "metrics_val.json").write_text(json.dumps(metrics, indent=2) + "\n")

    card = ModelCard(
        name="PneumoScan MobileNetV2",
        version=config.version,
        model_file=MODEL_FILE,
        sha256=sha256_of(model_path),
        created=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        preprocessing=preprocessing,
        threshold=threshold,
        threshold_rule=THRESHOLD_RULE + " (on temperature-calibrated probabilities)",
        temperature=temperature,
        target_layer=TARGET_LAYER,
        feature_layer=FEATURE_LAYER,
        validation_metrics=metrics,
        training_data=TRAINING_DATA.format(n_train=len(train), n_val=len(val), seed=config.seed),
        licence=LICENCE,
        command=config.command,
        training_time_s=round(float(state.data.get("elapsed_s", 0.0)), 1),
        domain={
            "file": DOMAIN_FILE,
            "sha256": sha256_of(out / DOMAIN_FILE),
            "cutoff": gate.cutoff,
            "method": f"Mahalanobis distance of the '{FEATURE_LAYER}' vector from the training split's mean "
                      f"(Ledoit-Wolf shrunk covariance); cut-off = {CUTOFF_PERCENTILE}th percentile on validation",
        },
    )
    card.save(out)
    log.info("validation: %s", {k: v for k, v in metrics.items() if k != "confusion_matrix"})
    return model_path
