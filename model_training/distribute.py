"""`train --distribute mirrored`: both phases on every visible accelerator with `tf.distribute.MirroredStrategy`.

Each replica gets `--batch-size` images per step, so a step sees `batch_size x replicas` images (the
batch the pipeline is built with); the learning rates stay as given, not scaled with that larger batch,
and the log says so. Model building, compiling and loading a checkpoint run in the strategy's scope, so
that every variable is mirrored; the checkpoints are ordinary `.keras` files that resume under either
choice. Without GPUs the replicas are the logical CPU devices (one, unless a test splits the CPU with
`tf.config.set_logical_device_configuration`), so the default, `none`, stays a plain single-device run.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import tensorflow as tf

log = logging.getLogger(__name__)

CHOICES = ("none", "mirrored")


@dataclass(frozen=True)
class Distribution:
    strategy: tf.distribute.Strategy
    replicas: int
    devices: tuple[str, ...]

    def global_batch(self, per_replica: int) -> int:
        return per_replica * self.replicas

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        with self.strategy.scope():
            yield


def distribution(choice: str, per_replica_batch: int, learning_rates: dict[str, float]) -> Distribution:
    """The strategy for `choice` ("none" or "mirrored"), logged with the batch and learning rates it implies."""
    if choice not in CHOICES:
        raise ValueError(f"--distribute {choice!r}: choose one of {', '.join(CHOICES)}")
    if choice == "none":
        strategy = tf.distribute.get_strategy()  # the default strategy: one device, no mirroring
        return Distribution(strategy, 1, ())
    devices = tuple(d.name for d in tf.config.list_logical_devices("GPU")) or \
        tuple(d.name for d in tf.config.list_logical_devices("CPU"))
    strategy = _mirrored(devices)
    chosen = Distribution(strategy, strategy.num_replicas_in_sync, devices)
    rates = ", ".join(f"{phase} {rate:g}" for phase, rate in learning_rates.items())
    log.info("MirroredStrategy on %d replicas (%s): %d images per replica, %d per step; learning rates as given "
             "(%s), not scaled with the batch", chosen.replicas, ", ".join(devices), per_replica_batch,
             chosen.global_batch(per_replica_batch), rates)
    return chosen


@functools.cache
def _mirrored(devices: tuple[str, ...]) -> tf.distribute.MirroredStrategy:
    """One strategy per process: a second MirroredStrategy on the same devices (a second `train` call in a
    notebook) collides with the first one's collective operations and aborts the run."""
    logging.getLogger("tensorflow").setLevel(logging.WARNING)  # not one "Reduce to ..." line per variable in train.log
    return tf.distribute.MirroredStrategy(devices=list(devices))
