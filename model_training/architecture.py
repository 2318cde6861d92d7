"""MobileNetV2 with the seeds' head, built as one flat graph.

Flat (every backbone layer is a layer of the outer model) so the engine's Grad-CAM reaches `out_relu`
without the nested-model "graph disconnected" trap, and the logit has its own layer so Grad-CAM and
temperature scaling can use the value before the sigmoid.
"""

from __future__ import annotations

import keras

TARGET_LAYER = "out_relu"
FEATURE_LAYER = "features"
LOGIT_LAYER = "logit"


def build_model(base_weights: str | None, input_size: tuple[int, int] = (224, 224), seed: int = 42) -> keras.Model:
    """`base_weights`: "imagenet" (download), a local `.h5` file, or None (random, for smoke tests)."""
    inputs = keras.Input(shape=(*input_size, 3), name="image")
    base = keras.applications.MobileNetV2(
        include_top=False, weights=base_weights, input_tensor=inputs, input_shape=(*input_size, 3)
    )
    x = keras.layers.GlobalAveragePooling2D(name=FEATURE_LAYER)(base.output)
    x = keras.layers.Dense(128, activation="relu", name="head_dense",
                           kernel_initializer=keras.initializers.GlorotUniform(seed))(x)
    x = keras.layers.Dropout(0.5, seed=seed, name="head_dropout")(x)
    logit = keras.layers.Dense(1, name=LOGIT_LAYER, kernel_initializer=keras.initializers.GlorotUniform(seed + 1))(x)
    probability = keras.layers.Activation("sigmoid", name="probability")(logit)
    return keras.Model(inputs, probability, name="pneumoscan_mobilenetv2")


def backbone_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The MobileNetV2 layers of the flat model, in the backbone's own order (input first)."""
    names = [layer.name for layer in model.layers]
    return model.layers[: names.index(TARGET_LAYER) + 1]


def freeze_backbone(model: keras.Model) -> None:
    """Phase 1: only the head learns."""
    for layer in backbone_layers(model):
        layer.trainable = False


def unfreeze_top(model: keras.Model, fine_tune_at: int, train_bn: bool = False) -> None:
    """Phase 2: backbone layers from `fine_tune_at` learn; BatchNormalization only if `train_bn`.

    In Keras 3 a non-trainable BatchNormalization layer runs in inference mode, so its ImageNet
    statistics stay put: the flat-graph equivalent of calling the base with training=False.
    """
    for index, layer in enumerate(backbone_layers(model)):
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = index >= fine_tune_at and (train_bn or not is_bn)
