"""`train --distribute mirrored` on two logical CPU devices with the smoke data set: both phases train
mirrored, a run stopped after a checkpoint resumes from it, and the phases hand a usable model on.

Runs in a fresh process: logical devices must be configured before TensorFlow starts its runtime, which
other tests in this session have already done. `finalize` (calibration, plots, export) is the
single-device code that tests/test_training_smoke.py covers; here it is replaced by a prediction, which
keeps this test near a minute on two busy cores."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.test_training_smoke import _make_dataset

pytestmark = [pytest.mark.training, pytest.mark.keras]

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from model_training import phases, train
    from model_training.cli import main

    class Killed(Exception):
        pass

    checkpoint = phases._Checkpointer.on_epoch_end

    def killed_after_first_finetune_epoch(self, epoch, logs=None):
        checkpoint(self, epoch, logs)
        if self.spec.name == "finetune" and epoch == 0:
            raise Killed  # as if the process died right after this epoch's checkpoint

    def finalize(model, *rest):
        print("the phases' model predicts", model.predict(np.zeros((2, 224, 224, 3), np.float32), verbose=0).shape)
        sys.exit(0)

    train.finalize = finalize
    args = sys.argv[1:]
    phases._Checkpointer.on_epoch_end = killed_after_first_finetune_epoch
    try:
        main(args)
        sys.exit("the run was not stopped")
    except Killed:
        pass
    phases._Checkpointer.on_epoch_end = checkpoint
    sys.exit(main(args + ["--resume"]))
""")


def test_mirrored_training_on_two_devices_checkpoints_and_resumes(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "run"
    _make_dataset(data, per_class=8)
    args = ["train", "--data", str(data), "--out", str(out), "--base-weights", "none", "--epochs-frozen", "1",
            "--epochs-finetune", "2", "--fine-tune-at", "140", "--swa-epochs", "0", "--batch-size", "4",
            "--augment", "none", "--val-fraction", "0.25", "--distribute", "mirrored"]
    done = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    log = (out / "train.log").read_text()
    assert log.count("MirroredStrategy on 2 replicas") == 2 and "4 images per replica, 8 per step" in log
    assert "finetune: resuming after epoch 1" in log and "frozen: already finished" in log
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["frozen"]["epoch"] == 1 and state["finetune"]["epoch"] == 2 and state["finetune"]["done"]
    assert len(state["finetune"]["history"]["loss"]) == 2  # epoch 1 before the stop, epoch 2 after the resume
    assert "the phases' model predicts (2, 1)" in done.stdout
    assert {"frozen_best.keras", "finetune_last.keras"} <= {p.name for p in (out / "checkpoints").iterdir()}
