"""Compiled inference on a Keras model: batched logits and features, and single-image Grad-CAM.

Keras's eager call and `model.predict` cost 90-150 ms for one image here; these `tf.function`s with
fixed input signatures are traced once and then run in a fraction of that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import keras
import tensorflow as tf

from app.core.errors import ModelError
from app.core.model.keras_graph import build_forward
from app.core.model.card import ModelCard


def cam_from_gradients(feature_map: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
    """Grad-CAM from (1, h, w, k) map and gradients -> (h, w) evidence map (logit units, >= 0, unnormalised)."""
    weights = tf.reduce_mean(gradients, axis=(1, 2))  # (1, k)
    return tf.nn.relu(tf.einsum("bhwk,bk->bhw", feature_map, weights))[0]


class Classifier:
    """Wraps a binary sigmoid model (the `keras` backend); knows nothing about files, thresholds or model cards."""

    name = "keras"

    def __init__(self, model: keras.Model, target_layer: str = "out_relu", feature_layer: str = "features") -> None:
        self.model = model
        self.forward = forward = build_forward(model, target_layer, feature_layer)  # also what the ONNX export converts
        height, width, channels = model.input_shape[1:]
        batch_spec = tf.TensorSpec([None, height, width, channels], tf.float32)
        one_spec = tf.TensorSpec([1, height, width, channels], tf.float32)

        @tf.function(input_signature=[batch_spec])
        def infer(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            _, logit, features = forward(x)
            return tf.reshape(logit, [-1]), features

        @tf.function(input_signature=[one_spec, tf.TensorSpec([], tf.float32)])
        def explain(x: tf.Tensor, sign: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
            with tf.GradientTape() as tape:
                feature_map, logit, features = forward(x)
                score = sign * tf.reshape(logit, [])
            gradients = tape.gradient(score, feature_map)
            return cam_from_gradients(feature_map, gradients), tf.reshape(logit, [-1]), features

        self._infer, self._explain = infer, explain

    def infer(self, batch: np.ndarray, chunk: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """(n, H, W, 3) -> logits (n,) and penultimate features (n, d)."""
        logits, features = [], []
        for start in range(0, len(batch), chunk):
            logit, feature = self._infer(tf.convert_to_tensor(batch[start : start + chunk], tf.float32))
            logits.append(logit.numpy())
            features.append(feature.numpy())
        return np.concatenate(logits), np.concatenate(features)

    def explain(self, image: np.ndarray, positive: bool = True) -> tuple[np.ndarray, float, np.ndarray]:
        """(H, W, 3) -> coarse Grad-CAM evidence (unnormalised, >= 0), the logit and the features of that same pass.

        `positive`: explain PNEUMONIA (gradient of the logit) or NORMAL (gradient of its negation).
        """
        sign = tf.constant(1.0 if positive else -1.0)
        cam, logit, features = self._explain(tf.convert_to_tensor(image[None], tf.float32), sign)
        return cam.numpy(), float(logit.numpy()[0]), features.numpy()[0]


    def explain_predicted(self, image: np.ndarray, is_positive: Callable[[float], bool]
                          ) -> tuple[np.ndarray, bool, float, np.ndarray]:
        """PNEUMONIA's map; a second pass (the negated gradient) when the logit decides NORMAL."""
        cam, logit, features = self.explain(image, positive=True)
        if is_positive(logit):
            return cam, True, logit, features
        return self.explain(image, positive=False)[0], False, logit, features

def load_classifier(path: Path, card: ModelCard) -> Classifier:
    """Load a `.keras` file already checked against `card`, as the `keras` backend."""
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for damaged archives
        raise ModelError(f"The model file {path.name} could not be loaded ({exc}); reinstall or retrain it.") from exc
    return Classifier(model, card.target_layer, card.feature_layer)
