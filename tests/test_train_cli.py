"""`python -m model_training train`: its refusals come before TensorFlow loads, in one line, and `--help`
explains every option with its default."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from model_training.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
PROBE = ("import sys\nfrom model_training.cli import main\ncode = main(sys.argv[1:])\n"
         "print(sorted(m for m in ('tensorflow', 'keras', 'sklearn') if m in sys.modules))\nsys.exit(code)")


@pytest.mark.parametrize(("argv", "message"), [
    (["--data", "/nonexistent", "--out", "OUT"], "error: --data /nonexistent is not a folder\n"),
    (["--data", "DATA", "--out", "OUT"], "DATA/NORMAL is missing: --data needs NORMAL/ and PNEUMONIA/ folders\n"),
    (["--data", "/nonexistent"], "the following arguments are required: --out (see --help)\n"),
    (["--data", "DATA", "--out", "OUT", "--epochs-frozen", "-1"], "argument --epochs-frozen: -1 must be 0 or more"),
])
def test_refusals_are_one_line_before_tensorflow(argv: list[str], message: str, tmp_path: Path) -> None:
    argv = [a.replace("DATA", str(tmp_path)).replace("OUT", str(tmp_path / "run")) for a in argv]
    done = subprocess.run([sys.executable, "-c", PROBE, "train", *argv], capture_output=True, text=True,
                          cwd=REPO, timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message.replace("DATA", str(tmp_path)) in done.stderr, done.stderr
    if done.stdout:  # main returned (argparse's refusals exit inside it): nothing heavy was imported
        assert done.stdout.strip() == "[]"
    assert not (tmp_path / "run").exists()  # nothing left behind


def test_train_help_explains_every_option_with_its_default() -> None:
    parser = build_parser()
    train = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    text = train.format_help()
    assert "(default: None)" not in text
    for action in train._actions:
        assert action.help, f"{action.option_strings} has no help"
        if action.default not in (None, False, argparse.SUPPRESS) and not action.required:
            assert f"(default: {action.default})" in " ".join(train.format_help().split()), action.option_strings
    assert "(default: 3)" in " ".join(text.split())  # --epochs-frozen, from TrainConfig
