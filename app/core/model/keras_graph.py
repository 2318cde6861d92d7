"""One forward pass that yields what prediction, Grad-CAM and the domain check need.

`forward(x) -> (feature_map, logit, features)`: the last convolutional map (Grad-CAM), the logit
before the sigmoid (calibration, Grad-CAM), and the penultimate features (domain check). A flat
model becomes one multi-output Keras model. A model whose backbone is nested as a sub-model (the
usual `base = MobileNetV2(...); x = base(inputs)` style) cannot be cut at an inner layer without
"Graph disconnected" errors, so there the backbone is re-exposed on its own inputs and the outer
layers are replayed after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from app.core.errors import ModelError

Forward = Callable[[Any], tuple[Any, Any, Any]]


def _is_sigmoid(layer: keras.layers.Layer) -> bool:
    return getattr(getattr(layer, "activation", None), "__name__", "") == "sigmoid"


def _logit_from_last(layer: keras.layers.Layer, inputs: Any) -> Any:
    """The pre-sigmoid value of a final `Dense(1, activation="sigmoid")` layer (with or without a bias)."""
    logit = keras.ops.matmul(inputs, layer.kernel)
    return logit + layer.bias if layer.bias is not None else logit


def _flat_forward(model: keras.Model, target: str, feature: str) -> Forward:
    names = {layer.name for layer in model.layers}
    last = model.layers[-1]
    if "logit" in names:
        logit = model.get_layer("logit").output
    elif isinstance(last, keras.layers.Activation) and _is_sigmoid(last):
        logit = last.input
    elif isinstance(last, keras.layers.Dense) and _is_sigmoid(last):
        logit = _logit_from_last(last, last.input)
    else:
        raise ModelError("The model must end in a sigmoid (one probability of pneumonia).")
    features = model.get_layer(feature).output if feature in names else _default_features(model).output
    multi = keras.Model(model.inputs, [model.get_layer(target).output, logit, features])
    return lambda x: tuple(multi(x, training=False))


def _default_features(model: keras.Model) -> keras.layers.Layer:
    for layer in model.layers:
        if isinstance(layer, keras.layers.GlobalAveragePooling2D):
            return layer
    raise ModelError("No penultimate feature layer (GlobalAveragePooling2D) found in the model.")


def _nested_forward(model: keras.Model, target: str, feature: str) -> Forward:
    index, base = next(
        ((i, layer) for i, layer in enumerate(model.layers)
         if isinstance(layer, keras.Model) and target in {inner.name for inner in layer.layers}),
        (None, None),
    )
    if base is None or index is None:
        raise ModelError(f"The model has no layer named {target!r} for Grad-CAM.")
    backbone = keras.Model(base.inputs, [base.get_layer(target).output, base.output])
    before = [layer for layer in model.layers[:index] if not isinstance(layer, keras.layers.InputLayer)]
    after = model.layers[index + 1 :]

    def forward(x: Any) -> tuple[Any, Any, Any]:
        for layer in before:
            x = layer(x, training=False)
        feature_map, x = backbone(x, training=False)
        features = x if len(x.shape) == 2 else None  # a backbone built with pooling="avg" ends in the features
        for layer in after:
            if layer.name == feature or (features is None and isinstance(layer, keras.layers.GlobalAveragePooling2D)):
                x = layer(x, training=False)
                features = x
            elif layer.name == "logit" or (layer is after[-1] and isinstance(layer, keras.layers.Activation)):
                return feature_map, (layer(x) if layer.name == "logit" else x), features
            elif layer is after[-1] and _is_sigmoid(layer):
                return feature_map, _logit_from_last(layer, x), features
            else:
                x = layer(x, training=False)
        raise ModelError("The model must end in a sigmoid (one probability of pneumonia).")

    return forward


def build_forward(model: keras.Model, target: str = "out_relu", feature: str = "features") -> Forward:
    """Return `forward(x) -> (feature_map, logit, features)` for a flat or nested binary classifier."""
    if target in {layer.name for layer in model.layers}:
        return _flat_forward(model, target, feature)
    return _nested_forward(model, target, feature)
