"""tf.data input pipeline over images the engine decoded once (`splits.decode_samples`), augmented and
preprocessed per epoch.

Each image is held as the engine decodes it (8-bit grayscale), the same arrays finalize scores and the
scope fit reads, so neither an epoch nor the finalize costs a JPEG decode; augmentation
(`model_training.augment`) works on those pixels, and the engine's own `preprocess` turns them into the
model input, so an un-augmented image is exactly what the app feeds the model
(`tests/test_preprocessing.py` proves it).
"""

from __future__ import annotations

import threading

import numpy as np
import tensorflow as tf

from app.core.io.collect import Decoded
from app.core.io.preprocessing import PreprocessConfig, preprocess
from model_training.augment import augmenter
from model_training.splits import Sample


def make_dataset(
    decoded: Decoded[Sample, np.ndarray],
    config: PreprocessConfig,
    batch_size: int = 32,
    training: bool = False,
    seed: int = 42,
    augment: str = "xray",
) -> tf.data.Dataset:
    """Batches of (image tensor, label); shuffled and augmented only when `training`."""
    height, width = config.input_size
    images = decoded.images
    labels = np.array([s.label for s in decoded.kept], dtype=np.float32)
    transform = augmenter(augment) if training else None
    rng, lock = np.random.default_rng(seed), threading.Lock()

    def lookup(index: np.int64) -> np.ndarray:
        return images[int(index)]

    def prepare(gray: np.ndarray) -> np.ndarray:
        if transform is not None:
            with lock:  # one generator shared by the parallel map calls
                child = np.random.default_rng(rng.integers(2**63))
            gray = transform(gray, child)
        return preprocess(gray, config)

    def lookup_tensor(index: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        gray = tf.numpy_function(lookup, [index], tf.uint8, stateful=False)
        gray.set_shape((None, None))
        return gray, label

    def prepare_tensor(gray: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image = tf.numpy_function(prepare, [gray], tf.float32, stateful=transform is not None)
        image.set_shape((height, width, 3))
        return image, label

    ds = tf.data.Dataset.from_tensor_slices((np.arange(len(images), dtype=np.int64), labels))
    ds = ds.map(lookup_tensor, num_parallel_calls=tf.data.AUTOTUNE)
    if training:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(prepare_tensor, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
