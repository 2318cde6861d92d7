"""Inference on ONNX Runtime: the app's default backend, with no TensorFlow in the process.

Importing TensorFlow and loading the `.keras` file cost about 5 s and 780 MiB before the first
prediction; ONNX Runtime gets there in a fraction of a second. Grad-CAM needs no gradient engine:
`app.core.model.head` computes it from the feature map and the pooled features of one forward pass.

It runs on the bytes `app.core.model.bundle.ModelBundle` read once and checked against the model card's
sha256, only from the model's own folder, so a swapped or planted file never runs.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from app.core.errors import ModelError
from app.core.model.head import Head
from app.core.model.card import ModelCard
from app.core.model.entries import OnnxEntry

INPUT = "image"
OUTPUTS = ("feature_map", "logit", "features")  # the names the exporter gives the graph's outputs


def session_threads() -> int:
    """Threads of one ONNX Runtime call: all cores of a laptop, at most 4 (more barely pays for one image)."""
    return max(1, min(4, os.cpu_count() or 1))


class OnnxBackend:
    """The exported network on the CPU execution provider, plus the dense head for Grad-CAM."""

    name = "onnx"

    def __init__(self, card: ModelCard, model_bytes: bytes, head: Head) -> None:
        """`model_bytes`: the graph the card's `onnx` entry names, verified; `head`: its verified Grad-CAM head."""
        entry = card.onnx
        self.head = head
        import onnxruntime as ort  # here, so that importing the engine stays instant

        options = ort.SessionOptions()
        options.intra_op_num_threads = session_threads()
        options.inter_op_num_threads = 1
        # No busy-waiting between calls: during a scan the decoding threads need those cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ONNX Runtime raises its own exception types for invalid graphs
            raise ModelError(f"The ONNX model {entry.file} could not be loaded ({exc}); export it again.") from exc
        self._check_signature(entry, card)

    def _check_signature(self, entry: OnnxEntry, card: ModelCard) -> None:
        """The graph must take the card's input (h, w, c) and give the three outputs the backend reads."""
        inputs, outputs = self.session.get_inputs(), {o.name for o in self.session.get_outputs()}
        recorded = list(entry.input_shape)
        if len(inputs) != 1 or inputs[0].name != INPUT:
            problem = f"not one input named {INPUT!r}"
        elif list(inputs[0].shape[1:]) != recorded or recorded[:2] != list(card.input_size):
            problem = f"input {list(inputs[0].shape[1:])}; the card says {recorded} and input size {list(card.input_size)}"
        elif missing := set(OUTPUTS) - outputs:
            problem = f"no {', '.join(sorted(missing))} output"
        else:
            return
        raise ModelError(f"The ONNX model {entry.file} does not fit its model card ({problem}): export it again.")

    def infer(self, batch: np.ndarray, chunk: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """(n, H, W, 3) -> logits (n,) and penultimate features (n, d)."""
        logits, features = [], []
        for start in range(0, len(batch), chunk):
            logit, feature = self.session.run(["logit", "features"], {INPUT: np.ascontiguousarray(batch[start : start + chunk], np.float32)})
            logits.append(logit.reshape(-1))
            features.append(feature)
        return np.concatenate(logits), np.concatenate(features)

    def explain(self, image: np.ndarray, positive: bool = True) -> tuple[np.ndarray, float, np.ndarray]:
        """(H, W, 3) -> Grad-CAM evidence (logit units, unnormalised, >= 0), the logit and the features."""
        feature_map, logit, features = self._forward(image)
        return self.head.evidence(feature_map, features, positive), logit, features

    def explain_predicted(self, image: np.ndarray, is_positive: Callable[[float], bool]
                          ) -> tuple[np.ndarray, bool, float, np.ndarray]:
        """One run for the predicted class too: the closed form needs only the map and features of that run."""
        feature_map, logit, features = self._forward(image)
        positive = is_positive(logit)
        return self.head.evidence(feature_map, features, positive), positive, logit, features

    def _forward(self, image: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        feature_map, logit, features = self.session.run(list(OUTPUTS), {INPUT: np.ascontiguousarray(image[None], np.float32)})
        return feature_map[0], float(logit.reshape(-1)[0]), features[0]
