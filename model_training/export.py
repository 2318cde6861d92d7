"""`export_onnx`: the ONNX file the app runs without TensorFlow, checked against the Keras model.

tf2onnx (the maintained TensorFlow converter; Keras 3's own `export(format="onnx")` goes through it
too) converts the engine's forward pass (`app.core.model.keras_graph.build_forward`) into one graph with three
outputs: the Grad-CAM feature map, the logit and the pooled features. The dense head after the pooling
is written beside it (`app.core.model.head`) because ONNX Runtime cannot hand out a graph's weights, and
Grad-CAM's closed form needs them. Before the card records the files, both backends run on probe
inputs, and an export whose logits or Grad-CAM maps differ is refused.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from app.core.errors import ModelError
from app.core.model.bundle import ModelBundle
from app.core.model.head import ACTIVATIONS, Head
from app.core.model.keras_classifier import Classifier, load_classifier
from app.core.model.onnx_backend import INPUT, OUTPUTS, OnnxBackend

OPSET = 17
TOLERANCE = 1e-4  # logits (relative to max(1, |logit|)) and max-normalised Grad-CAM maps


def _activation(layer: keras.layers.Layer) -> str:
    return getattr(getattr(layer, "activation", None), "__name__", "")


def dense_head(model: keras.Model) -> Head:
    """The dense layers between the pooled features and the logit (Dropout skipped, a final sigmoid dropped)."""
    dense: list[keras.layers.Dense] = []
    for layer in reversed(model.layers):
        if isinstance(layer, keras.layers.Dense):
            dense.insert(0, layer)
        elif not (isinstance(layer, keras.layers.Dropout) or (not dense and _activation(layer) == "sigmoid")):
            break
    if not dense or dense[-1].units != 1 or _activation(dense[-1]) not in ("linear", "sigmoid") \
            or any(_activation(layer) not in ACTIVATIONS for layer in dense[:-1]):
        raise ModelError("The model's head is not pooled features -> Dense (ReLU or linear) ... -> Dense(1): "
                         "it cannot be exported for the onnx backend; run it with --backend keras.")
    kernels = tuple(np.asarray(layer.kernel.numpy(), np.float32) for layer in dense)
    biases = tuple(np.asarray(layer.bias.numpy(), np.float32) if layer.use_bias else np.zeros(layer.units, np.float32)
                   for layer in dense)
    return Head(kernels, biases, tuple(_activation(layer) for layer in dense[:-1]))


def convert(classifier: Classifier, path: Path) -> None:
    """Write the forward pass of `classifier` as ONNX with input `image` and the outputs `OUTPUTS`."""
    import tf2onnx

    spec = tf.TensorSpec([None, *classifier.model.input_shape[1:]], tf.float32, name=INPUT)

    @tf.function(input_signature=[spec])
    def graph(x: tf.Tensor) -> dict[str, tf.Tensor]:
        feature_map, logit, features = classifier.forward(x)
        return dict(zip(OUTPUTS, (tf.identity(feature_map), tf.reshape(logit, [-1]), tf.identity(features))))

    try:
        tf2onnx.convert.from_function(graph, input_signature=[spec], opset=OPSET, output_path=str(path))
    except Exception as exc:  # the converter raises many types for graphs it cannot handle
        raise ModelError(f"tf2onnx could not convert the model ({exc.__class__.__name__}: {exc}).") from exc


def _normalised(cam: np.ndarray) -> np.ndarray:
    peak = float(cam.max())
    return cam / peak if peak > 0 else cam


def parity(keras_backend: Classifier, onnx_backend: OnnxBackend, seed: int = 0) -> float:
    """Largest logit difference on probe inputs; raises `ModelError` if logits or Grad-CAM maps disagree."""
    shape = keras_backend.model.input_shape[1:]
    probes = np.random.default_rng(seed).uniform(-1.0, 1.0, (3, *shape)).astype(np.float32)
    keras_logits, keras_features = keras_backend.infer(probes)
    onnx_logits, onnx_features = onnx_backend.infer(probes)
    logit_error = float(np.max(np.abs(keras_logits - onnx_logits) / np.maximum(1.0, np.abs(keras_logits))))
    cam_error = max(float(np.abs(_normalised(keras_backend.explain(x, positive)[0])
                                 - _normalised(onnx_backend.explain(x, positive)[0])).max())
                    for x in probes for positive in (True, False))
    feature_error = float(np.max(np.abs(keras_features - onnx_features) / np.maximum(1.0, np.abs(keras_features))))
    if max(logit_error, cam_error, feature_error) > TOLERANCE:
        raise ModelError(f"The ONNX export differs from the Keras model (logits {logit_error:.2g}, features "
                         f"{feature_error:.2g}, Grad-CAM {cam_error:.2g} > {TOLERANCE:g}); it was not kept.")
    return float(np.max(np.abs(keras_logits - onnx_logits)))


def export_onnx(keras_path: Path) -> Path:
    """Write `<stem>.onnx` and `<stem>_head.npz` beside the `.keras` file and record them in its model card.

    The card's `onnx` entry: file, sha256, opset, input, input_shape, outputs, converter, the head's file
    and sha256, and the largest logit difference measured against the Keras model.
    """
    keras_path = Path(keras_path)
    bundle = ModelBundle.open(keras_path, "keras")  # the card, and the .keras checked against it once
    card = bundle.card
    classifier = load_classifier(bundle.runs, card)
    head = dense_head(classifier.model)
    folder = keras_path.parent
    onnx_path, head_path = keras_path.with_suffix(".onnx"), folder / f"{keras_path.stem}_head.npz"
    import tf2onnx

    try:
        convert(classifier, onnx_path)
        head.save(head_path)
        graph, head_bytes = onnx_path.read_bytes(), head_path.read_bytes()  # read once: hashed, then run by the parity check
        entry = {
            "file": onnx_path.name, "sha256": hashlib.sha256(graph).hexdigest(), "opset": OPSET, "input": INPUT,
            "input_shape": list(classifier.model.input_shape[1:]), "outputs": list(OUTPUTS),
            "converter": f"tf2onnx {tf2onnx.__version__}",
            "head": {"file": head_path.name, "sha256": hashlib.sha256(head_bytes).hexdigest()},
        }
        card.onnx = entry  # typed by the card
        card.onnx = entry | {"max_logit_difference": parity(classifier, OnnxBackend(card, graph, Head.from_bytes(head_bytes)))}
    except Exception:
        onnx_path.unlink(missing_ok=True)
        head_path.unlink(missing_ok=True)
        raise
    card.save(folder)
    return onnx_path


def export_command(model: Path) -> int:
    """`python -m model_training export --model M.keras`: 0, or one line and 2 for a model it cannot export."""
    try:
        path = export_onnx(model)
    except ModelError as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2
    print(f"ONNX model written to {path}; its sha256 is in {path.parent / 'model_card.json'}")
    return 0
