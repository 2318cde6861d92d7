"""Preprocessing: the model input's shape, type and range, CLAHE, resizing, and one pipeline for all.

The equality tests prove that training (`model_training.pipeline.make_dataset`) feeds the model the
exact tensors the app computes for the same file, for the 224-pixel training images and for a
full-resolution original alike.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.io.model_input import load_and_preprocess
from app.core.io.preprocessing import PreprocessConfig, apply_clahe, preprocess, resize_to_input, scale_for_model
from tests.helpers import KERMANY
from tests.test_image_io import xray_like


@pytest.mark.parametrize("shape", [(224, 224), (1000, 800), (100, 300), (64, 64)])
@pytest.mark.parametrize("clahe", [False, True])
def test_preprocess_shape_dtype_and_range(shape: tuple[int, int], clahe: bool) -> None:
    gray = xray_like(*shape)
    tensor = preprocess(gray, PreprocessConfig(clahe=clahe))
    assert tensor.shape == (224, 224, 3) and tensor.dtype == np.float32
    assert tensor.min() >= -1.0 and tensor.max() <= 1.0
    assert np.array_equal(tensor[..., 0], tensor[..., 1]) and np.array_equal(tensor[..., 0], tensor[..., 2])


@pytest.mark.keras
def test_scaling_matches_mobilenet_v2_preprocess_input() -> None:
    import keras

    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    ours = scale_for_model(gray)
    theirs = keras.applications.mobilenet_v2.preprocess_input(np.repeat(gray[:, :, None], 3, 2).astype(np.float32))
    assert np.allclose(ours, theirs, atol=1e-6)
    assert ours[0, 0, 0] == -1.0 and ours[-1, -1, 0] == 1.0


def test_other_input_size_from_the_config() -> None:
    tensor = preprocess(xray_like(300, 200), PreprocessConfig(input_size=(96, 128)))
    assert tensor.shape == (96, 128, 3)


def test_clahe_changes_pixels_and_only_when_on() -> None:
    gray = (xray_like(256, 256) // 4 + 100).astype(np.uint8)  # low contrast: CLAHE has work to do
    off = preprocess(gray, PreprocessConfig(clahe=False))
    on = preprocess(gray, PreprocessConfig(clahe=True))
    assert not np.array_equal(off, on)
    equalised = apply_clahe(gray)
    assert equalised.dtype == np.uint8 and equalised.shape == gray.shape
    assert np.percentile(equalised, 99) - np.percentile(equalised, 1) > np.percentile(gray, 99) - np.percentile(gray, 1)
    assert np.array_equal(on, scale_for_model(resize_to_input(equalised, (224, 224))))  # CLAHE before resize


def test_clahe_parameters_are_used() -> None:
    gray = (xray_like(256, 256) // 4 + 100).astype(np.uint8)
    assert not np.array_equal(apply_clahe(gray, 2.0, 8), apply_clahe(gray, 4.0, 8))
    assert not np.array_equal(apply_clahe(gray, 2.0, 8), apply_clahe(gray, 2.0, 4))


def test_resize_is_identity_at_input_size() -> None:
    gray = xray_like(224, 224)
    assert np.array_equal(resize_to_input(gray, (224, 224)), gray)
    assert np.array_equal(preprocess(gray, PreprocessConfig()), scale_for_model(gray))


def test_resize_stretches_without_keeping_the_aspect_ratio() -> None:
    gray = np.zeros((200, 400), np.uint8)
    gray[:, 200:] = 255  # left half black, right half white
    resized = resize_to_input(gray, (224, 224))
    assert resized.shape == (224, 224)
    assert resized[:, :110].max() == 0 and resized[:, 114:].min() == 255  # the split stays in the middle


def test_preprocess_rejects_anything_but_2d_uint8() -> None:
    with pytest.raises(ValueError, match="uint8"):
        preprocess(np.zeros((100, 100), np.float32), PreprocessConfig())
    with pytest.raises(ValueError, match="uint8"):
        preprocess(np.zeros((100, 100, 3), np.uint8), PreprocessConfig())


def test_config_round_trip_and_unknown_scaling() -> None:
    config = PreprocessConfig(clahe=True, clahe_clip_limit=3.0, clahe_tile_grid=4, input_size=(128, 96))
    assert PreprocessConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["input_size"] == [128, 96]
    assert PreprocessConfig.from_dict({"clahe": True, "ignored_future_field": 1}) == PreprocessConfig(clahe=True)
    assert config.with_clahe(False).clahe is False and config.with_clahe(False).clahe_clip_limit == 3.0
    with pytest.raises(ValueError, match="Unknown scaling"):
        PreprocessConfig.from_dict({"scaling": "imagenet_caffe"})


# ---------------------------------------------------------------------------------------------------
# One pipeline for training and prediction
# ---------------------------------------------------------------------------------------------------


def _kermany_files(count: int) -> list[tuple[Path, int]]:
    train = KERMANY / "train"
    if not train.is_dir():
        pytest.skip(f"shared data not found at {train}")
    files = []
    for label, name in enumerate(("NORMAL", "PNEUMONIA")):
        files += [(p, label) for p in sorted((train / name).iterdir())[:count]]
    return files


def _dataset_tensors(files: list[tuple[Path, int]], config: PreprocessConfig) -> list[np.ndarray]:
    from model_training.pipeline import make_dataset
    from model_training.splits import Sample, decode_samples, patient_id

    samples = [Sample(str(path), label, patient_id(path)) for path, label in files]
    batches = make_dataset(decode_samples(samples, config.input_size), config, batch_size=4, training=False)
    tensors, labels = [], []
    for images, batch_labels in batches.as_numpy_iterator():
        tensors.extend(images)
        labels.extend(batch_labels)
    assert labels == [float(label) for _, label in files]  # order kept: no shuffling outside training
    return tensors


@pytest.mark.keras  # tf.data
@pytest.mark.parametrize("clahe", [False, True])
def test_training_pipeline_equals_app_preprocessing_on_training_images(clahe: bool) -> None:
    files = _kermany_files(3)
    config = PreprocessConfig(clahe=clahe)
    tensors = _dataset_tensors(files, config)
    assert len(tensors) == len(files)
    for (path, _), tensor in zip(files, tensors):
        expected = load_and_preprocess(str(path), config)
        assert tensor.dtype == expected.dtype and np.array_equal(tensor, expected), path


@pytest.mark.keras  # tf.data
def test_training_pipeline_equals_app_preprocessing_on_a_full_resolution_original(originals_dir: Path) -> None:
    original = sorted((originals_dir / "PNEUMONIA").iterdir())[0]
    config = PreprocessConfig()
    [tensor] = _dataset_tensors([(original, 1)], config)
    expected = load_and_preprocess(str(original), config)
    assert np.array_equal(tensor, expected)
    from app.core.io.images import load_image

    assert load_image(original).pixels.shape != (224, 224)  # really a full-size file: the resize is exercised


def test_scaling_by_table_is_bit_identical_to_the_arithmetic_on_every_grey_level() -> None:
    """The one-pass table look-up gives exactly the float32 values of x * (1 / 127.5) - 1 (the scan's tensors did
    not change), laid out as (H, W, 3) and contiguous, as the model's input needs."""
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)[:, ::-1]  # every level, and a non-contiguous view
    arithmetic = gray.astype(np.float32) * np.float32(1.0 / 127.5) - np.float32(1.0)
    scaled = scale_for_model(gray)
    assert scaled.dtype == np.float32 and scaled.shape == (16, 16, 3) and scaled.flags.c_contiguous
    assert all(np.array_equal(scaled[:, :, c], arithmetic) for c in range(3))
