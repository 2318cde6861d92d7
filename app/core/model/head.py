"""The dense head after the pooled features, in NumPy: Grad-CAM's channel weights without a gradient engine.

Everything after the global average pooling is a chain of dense layers (the product's Dense(128, ReLU)
-> Dropout -> Dense(1)), so the gradient of the logit with respect to the last feature map is the same
at every position: the gradient with respect to the pooled features, divided by the number of
positions. Backpropagating it by hand through the dense layers is exact (ReLU is piecewise linear),
which lets the ONNX backend compute Grad-CAM from one forward pass.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.errors import ModelError

ACTIVATIONS = ("relu", "linear")  # of the hidden layers; the last layer's value is the logit itself


@dataclass(frozen=True)
class Head:
    kernels: tuple[np.ndarray, ...]  # (d_in, d_out) per dense layer; the last one is (d, 1)
    biases: tuple[np.ndarray, ...]
    activations: tuple[str, ...]  # one per hidden layer (all but the last)

    def gradient(self, features: np.ndarray) -> np.ndarray:
        """d logit / d features for one (d,) feature vector."""
        x, masks = np.asarray(features, np.float64), []
        for kernel, bias, activation in zip(self.kernels, self.biases, self.activations):
            pre = x @ kernel + bias
            masks.append(pre > 0 if activation == "relu" else np.ones(pre.shape, bool))
            x = np.maximum(pre, 0.0) if activation == "relu" else pre
        gradient = np.asarray(self.kernels[-1], np.float64)[:, 0]
        for kernel, mask in zip(reversed(self.kernels[:-1]), reversed(masks)):
            gradient = kernel @ (gradient * mask)
        return gradient

    def evidence(self, feature_map: np.ndarray, features: np.ndarray, positive: bool = True) -> np.ndarray:
        """Grad-CAM of one (h, w, k) map: ReLU of the map weighted by the mean gradient, in logit units."""
        height, width = feature_map.shape[:2]
        alpha = (1.0 if positive else -1.0) * self.gradient(features) / (height * width)
        return np.maximum(feature_map.astype(np.float64) @ alpha, 0.0).astype(np.float32)

    def save(self, path: Path) -> None:
        arrays = {f"kernel_{i}": k for i, k in enumerate(self.kernels)} | {f"bias_{i}": b for i, b in enumerate(self.biases)}
        np.savez(path, activations=np.array(self.activations, dtype="U8"), **arrays)  # type: ignore[arg-type]  # the stub fears allow_pickle in **arrays

    @classmethod
    def from_bytes(cls, data: bytes) -> Head:
        """Read what `save` wrote (already checked against the card's sha256)."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                activations = tuple(str(a) for a in arrays["activations"])
                count = len(activations) + 1
                head = cls(tuple(np.asarray(arrays[f"kernel_{i}"], np.float64) for i in range(count)),
                           tuple(np.asarray(arrays[f"bias_{i}"], np.float64) for i in range(count)), activations)
        except (KeyError, ValueError, OSError) as exc:
            raise ModelError(f"The Grad-CAM head file is corrupt ({exc}): export the model again.") from exc
        if set(activations) - set(ACTIVATIONS) or head.kernels[-1].shape[1:] != (1,):
            raise ModelError("The Grad-CAM head file is not a dense head ending in one logit: export the model again.")
        return head
