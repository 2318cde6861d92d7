"""tf.data input pipeline: decode and preprocess with the engine, cache, shuffle, batch, augment, prefetch."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from app.core.preprocessing import PreprocessConfig, load_and_preprocess
from model_training.splits import Sample


def augmentation(seed: int) -> keras.Sequential:
    """Small geometric and photometric jitter, training set only.

    No horizontal flips: a mirrored chest puts the heart on the right (dextrocardia), which the model
    would then learn to call normal, and real X-rays are never presented mirrored.
    """
    value_range = (-1.0, 1.0)  # the engine's model scaling
    return keras.Sequential(
        [
            keras.layers.RandomRotation(0.028, fill_mode="nearest", seed=seed),  # about +-10 degrees
            keras.layers.RandomTranslation(0.05, 0.05, fill_mode="nearest", seed=seed + 1),
            keras.layers.RandomZoom(0.1, fill_mode="nearest", seed=seed + 2),
            keras.layers.RandomBrightness(0.1, value_range=value_range, seed=seed + 3),
            keras.layers.RandomContrast(0.1, value_range=value_range, seed=seed + 4),
        ],
        name="augmentation",
    )


def make_dataset(
    samples: list[Sample],
    config: PreprocessConfig,
    batch_size: int = 32,
    training: bool = False,
    seed: int = 42,
) -> tf.data.Dataset:
    """Batches of (image tensor, label); images are exactly `load_and_preprocess(path, config)`."""
    height, width = config.input_size
    paths = np.array([s.path for s in samples])
    labels = np.array([s.label for s in samples], dtype=np.float32)

    def load(path: bytes) -> np.ndarray:
        return load_and_preprocess(path.decode("utf-8"), config)

    def load_tensor(path: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image = tf.numpy_function(load, [path], tf.float32, stateful=False)
        image.set_shape((height, width, 3))
        return image, label

    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    ds = ds.map(load_tensor, num_parallel_calls=tf.data.AUTOTUNE).cache()
    if training:
        ds = ds.shuffle(len(samples), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if training:
        augment = augmentation(seed)
        ds = ds.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
