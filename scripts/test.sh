#!/usr/bin/env bash
# Set up a virtual environment (first run only) and run the architecture contracts and the test suite
# on both backends (the dev extra adds TensorFlow, Keras and the ONNX exporter to the onnxruntime app).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
export QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2
.venv/bin/lint-imports
.venv/bin/python -m pytest -q "$@"
