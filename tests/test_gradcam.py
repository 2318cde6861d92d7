"""Grad-CAM: exact on a model small enough to compute by hand, right on a model that learned a task,
not an edge detector (it fails once the weights are randomised), and the same for nested backbones.

Every test that explains runs on both backends: `keras` (GradientTape) and `onnx` (the model exported
by the product's exporter, Grad-CAM from the closed form in `app.core.model.head`).
All models here are tiny (a few convolutions on 32 x 32 or smaller inputs); only one test touches
the product's MobileNetV2 (the shared random-weights test model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from app.core.model.backend import Backend
from app.core.model.bundle import ModelBundle
from app.core.model.keras_classifier import Classifier
from app.core.model.keras_classifier import cam_from_gradients
from app.core.explain.gradcam import colormap_lut, overlay, upsample
from app.core.io.preprocessing import PreprocessConfig
from model_training.export import export_onnx
from tests.helpers import save_model_with_card

pytestmark = pytest.mark.keras

OnBackend = Callable[[keras.Model], Backend]


def exported(model: keras.Model, folder: Path) -> Path:
    """Save `model` with a card for its own input size and export it to ONNX; returns the .keras path."""
    path = save_model_with_card(model, folder, preprocessing=PreprocessConfig(input_size=tuple(model.input_shape[1:3])))
    export_onnx(path)
    return path


@pytest.fixture(params=["keras", "onnx"])
def on_backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> OnBackend:
    """Turns a Keras model into the parametrised backend: as it is, or exported and run on ONNX Runtime."""
    if request.param == "keras":
        return Classifier

    def onnx(model: keras.Model) -> Backend:
        path = exported(model, tmp_path_factory.mktemp("onnx"))
        return ModelBundle.open(path, "onnx").open_runtime()

    return onnx

# ---------------------------------------------------------------------------------------------------
# (a) A model computed by hand: 1x1 convolution -> global average -> logit
# ---------------------------------------------------------------------------------------------------

H, W, C_IN = 6, 7, 2
KERNEL = np.array([[0.8, -0.5, 0.3], [0.2, 0.9, -0.7]], np.float32)  # (C_IN, k=3)
DENSE_W = np.array([1.5, -2.0, 0.5], np.float32)
DENSE_B = 0.25


def hand_model(dense_w: np.ndarray = DENSE_W, head: str = "logit") -> keras.Model:
    """input -> Conv2D 1x1 (ReLU) "out_relu" -> GAP "features" -> logit -> sigmoid, in three head styles."""
    inputs = keras.Input((H, W, C_IN))
    x = keras.layers.Conv2D(3, 1, use_bias=False, activation="relu", name="out_relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    if head == "logit":  # the product's style: a layer named "logit", then a sigmoid
        dense = keras.layers.Dense(1, name="logit")
        outputs = keras.layers.Activation("sigmoid", name="probability")(dense(x))
    elif head == "activation":  # an unnamed linear layer, then a sigmoid Activation
        dense = keras.layers.Dense(1, name="linear")
        outputs = keras.layers.Activation("sigmoid", name="probability")(dense(x))
    elif head in ("dense", "dense_no_bias"):  # Dense(1, activation="sigmoid"): the logit is computed
        dense = keras.layers.Dense(1, activation="sigmoid", use_bias=head == "dense", name="probability")
        outputs = dense(x)
    else:
        raise ValueError(head)
    model = keras.Model(inputs, outputs)
    model.get_layer("out_relu").set_weights([KERNEL.reshape(1, 1, C_IN, 3)])
    dense.set_weights([dense_w.reshape(3, 1), np.array([DENSE_B], np.float32)] if dense.use_bias
                      else [dense_w.reshape(3, 1)])
    return model


def hand_input(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (H, W, C_IN)).astype(np.float32)


def hand_cam(x: np.ndarray, dense_w: np.ndarray = DENSE_W, positive: bool = True) -> tuple[np.ndarray, float, np.ndarray]:
    """Grad-CAM written out: d logit / d A_k(i, j) = w_k / (h w), so alpha_k = w_k / (h w)."""
    activations = np.maximum(x @ KERNEL, 0.0)  # (H, W, 3): the 1x1 convolution and its ReLU
    features = activations.mean(axis=(0, 1))
    logit = float(features @ dense_w + DENSE_B)
    alpha = (1.0 if positive else -1.0) * dense_w / (H * W)
    cam = np.maximum(np.einsum("hwk,k->hw", activations, alpha), 0.0)  # evidence in logit units, unnormalised
    return cam, logit, features


@pytest.mark.parametrize("positive", [True, False], ids=["PNEUMONIA", "NORMAL"])
def test_cam_equals_the_hand_computed_weighted_sum(positive: bool, on_backend: OnBackend) -> None:
    classifier = on_backend(hand_model())
    for seed in range(3):
        x = hand_input(seed)
        cam, logit, features = classifier.explain(x, positive=positive)
        expected_cam, expected_logit, expected_features = hand_cam(x, positive=positive)
        assert cam.shape == (H, W)
        assert np.allclose(cam, expected_cam, atol=1e-5)
        assert cam.max() > 0
        assert logit == pytest.approx(expected_logit, abs=1e-5)
        assert np.allclose(features, expected_features, atol=1e-6)


def test_normal_map_is_the_complement_of_the_pneumonia_map(on_backend: OnBackend) -> None:
    classifier = on_backend(hand_model())
    x = hand_input(5)
    positive, _, _ = classifier.explain(x, positive=True)
    negative, _, _ = classifier.explain(x, positive=False)
    assert not np.allclose(positive, negative)
    assert np.all((positive == 0) | (negative == 0))  # a region supports one class or the other, not both


@pytest.mark.parametrize("head", ["activation", "dense", "dense_no_bias"])
def test_every_sigmoid_head_style_gives_the_same_logit_and_map(head: str, on_backend: OnBackend) -> None:
    reference = on_backend(hand_model())
    other_model = hand_model(head=head)
    other = on_backend(other_model)
    bias = DENSE_B if head != "dense_no_bias" else 0.0
    x = hand_input(7)
    cam, logit, _ = other.explain(x)
    ref_cam, ref_logit, _ = reference.explain(x)
    assert logit == pytest.approx(ref_logit - DENSE_B + bias, abs=1e-5)
    assert np.allclose(cam, ref_cam, atol=1e-5)  # the bias shifts the logit, never the gradients
    probability = float(other_model.predict(x[None], verbose=0)[0, 0])
    assert 1 / (1 + np.exp(-logit)) == pytest.approx(probability, abs=1e-5)


def test_all_zero_map_stays_zero(on_backend: OnBackend) -> None:
    """All channel weights negative on non-negative activations: nothing supports PNEUMONIA."""
    negative_w = np.array([-1.0, -0.5, -2.0], np.float32)
    classifier = on_backend(hand_model(negative_w))
    cam, _, _ = classifier.explain(hand_input(1), positive=True)
    assert np.all(np.isfinite(cam)) and not cam.any()
    normal, _, _ = classifier.explain(hand_input(1), positive=False)
    assert normal.max() > 0


def test_cam_from_gradients_directly() -> None:
    rng = np.random.default_rng(2)
    feature_map = rng.random((1, 4, 5, 6)).astype(np.float32)
    gradients = rng.normal(0, 1, (1, 4, 5, 6)).astype(np.float32)
    cam = cam_from_gradients(tf.constant(feature_map), tf.constant(gradients)).numpy()
    weights = gradients[0].mean(axis=(0, 1))
    expected = np.maximum(feature_map[0] @ weights, 0)
    assert np.allclose(cam, expected, atol=1e-5)
    zero = cam_from_gradients(tf.constant(feature_map), tf.zeros_like(gradients)).numpy()
    assert zero.shape == (4, 5) and np.all(np.isfinite(zero)) and not zero.any()


# ---------------------------------------------------------------------------------------------------
# (b, c) A trained detector: the map finds the square; randomised weights lose it
# ---------------------------------------------------------------------------------------------------

SIZE, SQUARE = 32, 6


def squares(n: int, seed: int, positive_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Noise, a brighter bar in every image (a distractor), and in positives a 6 x 6 square elsewhere."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.15, (n, SIZE, SIZE, 1)).astype(np.float32)
    y = (rng.random(n) < positive_fraction).astype(np.float32)
    corners = []
    for i in range(n):
        while True:
            r, c = (int(v) for v in rng.integers(0, SIZE - SQUARE + 1, 2))
            br, bc = int(rng.integers(0, SIZE - 1)), int(rng.integers(0, SIZE - 11))
            if br + 4 <= r or r + SQUARE + 2 <= br or bc + 14 <= c or c + SQUARE + 2 <= bc:  # apart
                break
        x[i, br : br + 2, bc : bc + 12, 0] += 2.0
        if y[i]:
            x[i, r : r + SQUARE, c : c + SQUARE, 0] += 1.0
        corners.append((r, c))
    return x, y, corners


def square_model(seed: int) -> keras.Model:
    def init(k: int) -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed + k)

    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", kernel_initializer=init(0))(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="out_relu", kernel_initializer=init(1))(x)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    x = keras.layers.Dense(1, name="logit", kernel_initializer=init(2))(x)
    return keras.Model(inputs, keras.layers.Activation("sigmoid")(x))


def _mask(corner: tuple[int, int]) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[corner[0] : corner[0] + SQUARE, corner[1] : corner[1] + SQUARE] = 1
    return mask


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-12))


def _peak_on_square(cam: np.ndarray, corner: tuple[int, int]) -> bool:
    row, col = np.unravel_index(int(np.argmax(cam)), cam.shape)
    return bool(_mask(corner)[row, col])


@pytest.fixture(scope="module")
def trained_square_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    x, y, _ = squares(400, seed=0)
    model = square_model(0)
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.95, "the tiny detector did not learn; the Grad-CAM tests would be moot"
    return model


@pytest.fixture(scope="module")
def held_out() -> tuple[np.ndarray, list[tuple[int, int]]]:
    x, _, corners = squares(12, seed=99, positive_fraction=1.0)
    return x, corners


def test_heat_map_peak_falls_on_the_square(trained_square_model: keras.Model, held_out, on_backend: OnBackend) -> None:  # noqa: ANN001
    classifier = on_backend(trained_square_model)
    x, corners = held_out
    hits = 0
    for image, corner in zip(x, corners):
        cam, logit, _ = classifier.explain(image)
        assert logit > 0  # the model sees the square
        hits += _peak_on_square(cam, corner)
    assert hits >= len(x) - 1, f"peak on the square in only {hits} of {len(x)} held-out images"


def test_randomised_weights_change_the_map(trained_square_model: keras.Model, held_out, on_backend: OnBackend) -> None:  # noqa: ANN001
    """Adebayo et al. (2018): a map that survives weight randomisation explains the input, not the model."""
    x, corners = held_out
    trained = on_backend(trained_square_model)
    trained_maps = [trained.explain(image)[0] for image in x]
    trained_fit = np.mean([_corr(cam, _mask(c)) for cam, c in zip(trained_maps, corners)])
    assert trained_fit > 0.6
    for seed in (101, 102, 103):
        randomised = on_backend(square_model(seed))  # same architecture, fresh initial weights
        maps = [randomised.explain(image)[0] for image in x]
        similarity = np.mean([_corr(a, b) for a, b in zip(maps, trained_maps)])
        fit = np.mean([_corr(cam, _mask(c)) for cam, c in zip(maps, corners)])
        hits = sum(_peak_on_square(cam, c) for cam, c in zip(maps, corners))
        assert similarity < 0.6, f"seed {seed}: the randomised model's maps still resemble the trained ones"
        assert fit < trained_fit - 0.3
        assert hits <= len(x) // 2


# ---------------------------------------------------------------------------------------------------
# (d) Nested backbone (the "graph disconnected" trap) gives the flat model's results
# ---------------------------------------------------------------------------------------------------


def _layers() -> dict[str, keras.layers.Layer]:
    return {
        "scale": keras.layers.Rescaling(2.0, offset=-1.0, name="scale"),
        "conv1": keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="conv1"),
        "conv2": keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="out_relu"),
        "gap": keras.layers.GlobalAveragePooling2D(name="features"),
        "drop": keras.layers.Dropout(0.5, name="drop"),
        "dense": keras.layers.Dense(4, activation="relu", name="head_dense"),
        "logit": keras.layers.Dense(1, name="logit"),
        "sigmoid": keras.layers.Activation("sigmoid", name="probability"),
    }


def _flat(layers: dict[str, keras.layers.Layer]) -> keras.Model:
    inputs = keras.Input((SIZE, SIZE, 3))
    x = layers["conv2"](layers["conv1"](layers["scale"](inputs)))
    x = layers["logit"](layers["dense"](layers["drop"](layers["gap"](x))))
    return keras.Model(inputs, layers["sigmoid"](x), name="flat")


def _nested(layers: dict[str, keras.layers.Layer], pooled_backbone: bool) -> keras.Model:
    """`base = keras.Model(...); x = base(inputs)`; with `pooled_backbone` the GAP is inside the base."""
    base_inputs = keras.Input((SIZE, SIZE, 3))
    base_out = layers["conv2"](layers["conv1"](base_inputs))
    base = keras.Model(base_inputs, layers["gap"](base_out) if pooled_backbone else base_out, name="backbone")
    inputs = keras.Input((SIZE, SIZE, 3))
    x = base(layers["scale"](inputs))
    if not pooled_backbone:
        x = layers["gap"](x)
    x = layers["logit"](layers["dense"](layers["drop"](x)))
    return keras.Model(inputs, layers["sigmoid"](x), name="nested")


@pytest.mark.parametrize("pooled_backbone", [False, True], ids=["backbone_map", "backbone_pooled"])
def test_nested_backbone_gives_the_flat_models_cam(pooled_backbone: bool, on_backend: OnBackend) -> None:
    keras.utils.set_random_seed(3)
    flat, nested = _flat(_layers()), _nested(_layers(), pooled_backbone)
    backbone = nested.get_layer("backbone")
    for name in ("conv1", "out_relu"):  # the same weights in both (copied: shared layers would be a third case)
        backbone.get_layer(name).set_weights(flat.get_layer(name).get_weights())
    for name in ("head_dense", "logit"):
        nested.get_layer(name).set_weights(flat.get_layer(name).get_weights())
    with pytest.raises(ValueError):  # the trap: an inner layer's output is not reachable from the outer input
        keras.Model(nested.inputs, nested.get_layer("backbone").get_layer("out_relu").output)
    flat_classifier, nested_classifier = on_backend(flat), on_backend(nested)
    images = np.random.default_rng(4).random((3, SIZE, SIZE, 3)).astype(np.float32)
    for image in images:
        for positive in (True, False):
            flat_cam, flat_logit, flat_features = flat_classifier.explain(image, positive)
            cam, logit, features = nested_classifier.explain(image, positive)
            assert cam.shape == (SIZE // 2, SIZE // 2)
            assert np.allclose(cam, flat_cam, atol=1e-5)
            assert logit == pytest.approx(flat_logit, abs=1e-5)
            assert np.allclose(features, flat_features, atol=1e-6)
    logits, features = nested_classifier.infer(images)
    flat_logits, flat_features = flat_classifier.infer(images)
    assert np.allclose(logits, flat_logits, atol=1e-5) and np.allclose(features, flat_features, atol=1e-6)
    probabilities = nested.predict(images, verbose=0)[:, 0]  # Dropout is off at inference
    assert np.allclose(1 / (1 + np.exp(-logits)), probabilities, atol=1e-5)


# ---------------------------------------------------------------------------------------------------
# The product's MobileNetV2 and the screener
# ---------------------------------------------------------------------------------------------------


def test_product_model_explains_at_image_resolution(test_screener) -> None:  # noqa: ANN001
    from app.core.io.images import LoadedImage
    from tests.test_image_io import xray_like

    image = LoadedImage(xray_like(300, 260), "PNG", 8, 1, 0.0)
    explanation = test_screener.explain(image)
    assert explanation.heatmap.shape == (300, 260) and explanation.heatmap.dtype == np.float32
    assert explanation.heatmap.min() >= 0.0 and explanation.heatmap.max() <= 1.0
    prediction = test_screener.predict(image)
    assert explanation.prediction.probability == pytest.approx(prediction.probability, abs=1e-6)
    cam, _, _ = test_screener.backend.explain(test_screener.prepare(image).tensor)
    assert cam.shape == (7, 7)  # MobileNetV2's out_relu at 224 x 224


@pytest.mark.parametrize("backend", ["keras", "onnx"])
def test_screener_reports_an_empty_map(tmp_path: Path, backend: str) -> None:
    """A 224-input tiny model whose evidence is all against PNEUMONIA: the map is empty, not NaN."""
    from app.core.io.images import LoadedImage
    from app.core.screening import NEGATIVE, Screener
    from tests.test_image_io import xray_like

    inputs = keras.Input((224, 224, 3))
    x = keras.layers.Conv2D(4, 8, strides=8, activation="relu", name="out_relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    logit = keras.layers.Dense(1, name="logit", kernel_initializer="zeros")
    model = keras.Model(inputs, keras.layers.Activation("sigmoid")(logit(x)))
    logit.set_weights([-np.ones((4, 1), np.float32), np.zeros(1, np.float32)])
    screener = Screener(exported(model, tmp_path), backend)
    image = LoadedImage(xray_like(250, 230), "PNG", 8, 1, 0.0)
    explanation = screener.explain(image)
    assert explanation.empty and explanation.heatmap.shape == (250, 230) and not explanation.heatmap.any()
    normal = screener.explain(image, explained_class=NEGATIVE)
    assert not normal.empty and normal.heatmap.max() > 0.5


# ---------------------------------------------------------------------------------------------------
# (e) Overlay and colour scale
# ---------------------------------------------------------------------------------------------------


def test_overlay_shape_and_opacity() -> None:
    gray = np.tile(np.linspace(0, 255, 90).astype(np.uint8), (70, 1))
    heat = np.random.default_rng(0).random((7, 7)).astype(np.float32)  # coarse: upsampled to the image
    images = {opacity: overlay(gray, heat, opacity) for opacity in (0.0, 0.4, 0.8, 1.0)}
    for rgb in images.values():
        assert rgb.shape == (70, 90, 3) and rgb.dtype == np.uint8
    assert np.array_equal(images[0.0], np.repeat(gray[:, :, None], 3, axis=2))
    assert not np.array_equal(images[0.4], images[0.8])
    base = images[0.0].astype(int)
    assert np.abs(images[0.8].astype(int) - base).mean() > np.abs(images[0.4].astype(int) - base).mean() > 0
    assert np.array_equal(overlay(gray, heat, 7.0), images[1.0])  # clipped to [0, 1]


def test_overlay_colours_follow_the_legend_in_rgb_order() -> None:
    lut = colormap_lut()
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    assert lut[0, 2] > lut[0, 0] and lut[255, 0] > lut[255, 2]  # blue for low, red for high (RGB order)
    gray = np.full((20, 30), 128, np.uint8)
    assert np.array_equal(overlay(gray, np.ones((20, 30), np.float32), 1.0)[5, 5], lut[255])
    assert np.array_equal(overlay(gray, np.zeros((20, 30), np.float32), 1.0)[5, 5], lut[0])


def test_upsample_keeps_the_range_and_the_peak_position() -> None:
    cam = np.zeros((7, 7), np.float32)
    cam[1, 5] = 1.0
    big = upsample(cam, (700, 350))
    assert big.shape == (700, 350) and big.min() >= 0.0 and big.max() <= 1.0
    row, col = np.unravel_index(int(np.argmax(big)), big.shape)
    assert 100 <= row < 200 and 250 <= col < 300  # cell (1, 5) of the 7 x 7 grid
    assert cv2.resize(cam, (350, 700)).shape == big.shape
